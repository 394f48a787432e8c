"""Slack interactions against `ops serve`: how long Slack waits for its answer (3 s allowed).

200 signed button presses (Acknowledge, then repeated presses on acknowledged escalations:
each one a signature check, a replay-key insert, a compare-and-set and audit rows in SQLite,
synchronous=FULL), one at a time, against the same server's GET /healthz as the baseline.
Prints the median and p99 of both.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ops_toolkit.demo.servers import free_port, stop_process, wait_ready
from ops_toolkit.escalate.interact import sign
from ops_toolkit.serve.escalations import ref_of

PRESSES = 200
SECRET = "bench-secret"
ONCALL = """
schedules:
  - name: primary
    layers: [{rotation: daily, start: 2026-01-01, participants: [U0PRIMARY1]}]
policies:
  - name: bench
    tiers: [{schedule: primary, wait: 1h}, {users: [U0LEAD0001]}]
"""


def timed(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> float:
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"bench: {method} {path}: HTTP {response.status}")
    return elapsed


def main() -> None:
    work = tempfile.mkdtemp(prefix="ops-bench-slack-")
    with open(f"{work}/oncall.yaml", "w") as handle:
        handle.write(ONCALL)
    with open(f"{work}/routes.yaml", "w") as handle:
        handle.write(
            'routes:\n  - {match: {service: bench}, channel: "#bench", escalation: bench}\n'
        )
    with open(f"{work}/ops.yaml", "w") as handle:
        handle.write(
            f"serve: {{state: {work}/state.db, messages: {work}/messages.jsonl}}\n"
            f"routes: {work}/routes.yaml\noncall: {work}/oncall.yaml\n"
        )
    port = free_port()
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": "t", "SLACK_SIGNING_SECRET": SECRET}
    env.pop("SLACK_BOT_TOKEN", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "serve",
            "--config",
            f"{work}/ops.yaml",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server, 30, "/dev/null")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        groups = [f"bench-{n}" for n in range(20)]
        for key in groups:
            body = json.dumps(
                {
                    "version": "4",
                    "groupKey": key,
                    "status": "firing",
                    "receiver": "ops",
                    "groupLabels": {"alertname": "Bench"},
                    "commonLabels": {"service": "bench"},
                    "commonAnnotations": {},
                    "externalURL": "",
                    "truncatedAlerts": 0,
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {"alertname": "Bench", "service": "bench"},
                            "annotations": {},
                            "startsAt": "2026-11-29T12:00:00Z",
                            "endsAt": "0001-01-01T00:00:00Z",
                            "fingerprint": key,
                        }
                    ],
                }
            ).encode()
            timed(
                connection,
                "POST",
                "/alertmanager",
                body,
                {"authorization": "Bearer t", "content-type": "application/json"},
            )
        time.sleep(2)  # processed: the escalations exist
        presses, health = [], []
        for n in range(PRESSES):
            payload = {
                "type": "block_actions",
                "user": {"id": f"U0USER{n:04d}"},
                "actions": [{"action_id": "ack", "value": ref_of(groups[n % 20], "#bench")}],
            }
            body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
            presses.append(
                timed(
                    connection,
                    "POST",
                    "/slack/interactions",
                    body,
                    sign(SECRET, body, int(time.time())),
                )
            )
            health.append(timed(connection, "GET", "/healthz", None, {}))
    finally:
        stop_process(server)  # SIGKILL after 15 s: it does not outlive the benchmark

    def p99(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.99) - 1]

    print(
        f"slack interactions: median {statistics.median(presses) * 1000:.1f} ms, "
        f"p99 {p99(presses) * 1000:.1f} ms ({PRESSES} signed presses; Slack allows 3000 ms)"
    )
    print(
        f"baseline GET /healthz: median {statistics.median(health) * 1000:.1f} ms, "
        f"p99 {p99(health) * 1000:.1f} ms"
    )
    print(f"ratio (median): {statistics.median(presses) / statistics.median(health):.1f}x")


if __name__ == "__main__":
    main()
