"""Webhook intake: 5,000 alerts in groups of 10, 16 concurrent senders, against `ops serve`
(durable: each 2xx only after the SQLite commit, synchronous=FULL) and, in the same run,
against the same server stack (uvicorn + starlette) with an empty handler.

Prints alerts per second and p99 latency of both. Targets: at least 1,000 alerts/s accepted;
p99 within 5 times the empty handler's in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ops_toolkit.demo.servers import free_port, wait_ready

ALERTS = 5000
PER_GROUP = 10
SENDERS = 16
TOKEN = "bench-token"
EMPTY_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def accept(request):
    await request.body()
    return JSONResponse({"status": "accepted"})

async def healthz(request):
    return JSONResponse({"status": "ok"})

app = Starlette(routes=[Route("/alertmanager", accept, methods=["POST"]), Route("/healthz", healthz)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def payloads() -> list[bytes]:
    bodies = []
    for group in range(ALERTS // PER_GROUP):
        alerts = [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"BenchAlert{group % 50}",
                    "service": "bench",
                    "instance": f"i{n}",
                },
                "annotations": {"summary": "benchmark alert"},
                "startsAt": "2026-11-29T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
                "fingerprint": f"{group:05d}{n:03d}",
            }
            for n in range(PER_GROUP)
        ]
        bodies.append(
            json.dumps(
                {
                    "version": "4",
                    "groupKey": f"bench-{group}",
                    "truncatedAlerts": 0,
                    "status": "firing",
                    "receiver": "ops",
                    "groupLabels": {},
                    "commonLabels": {"service": "bench"},
                    "commonAnnotations": {},
                    "externalURL": "http://127.0.0.1:9093",
                    "alerts": alerts,
                }
            ).encode()
        )
    return bodies


def blast(port: int, bodies: list[bytes]) -> tuple[float, float, int]:
    """(seconds, p99 latency, failures) for all bodies over SENDERS keep-alive connections."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    chunks = [bodies[i::SENDERS] for i in range(SENDERS)]

    def send(chunk: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
        for body in chunk:
            started = time.perf_counter()
            connection.request("POST", "/alertmanager", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures[0] += 1
        connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98]
    return total, p99, failures[0]


def run(
    command: list[str], port: int, env: dict[str, str], workdir: str, bodies: list[bytes]
) -> tuple[float, float, int]:
    log = open(os.path.join(workdir, f"server-{port}.log"), "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process, 30, log.name)
        return blast(port, bodies)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def main() -> None:
    bodies = payloads()
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": os.getcwd()}
    env.pop("SLACK_BOT_TOKEN", None)
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        empty = run([sys.executable, "-c", EMPTY_APP, str(port)], port, env, work, bodies)
        port = free_port()
        ops = run(
            [
                sys.executable,
                "-m",
                "ops_toolkit",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--state",
                os.path.join(work, "state.db"),
            ],
            port,
            env,
            work,
            bodies,
        )
    for name, (seconds, p99, failures) in (("ops serve", ops), ("empty handler", empty)):
        print(
            f"intake: {name}: {ALERTS / seconds:,.0f} alerts/s ({len(bodies) / seconds:,.0f} "
            f"requests/s), p99 {p99 * 1000:.1f} ms, {failures} non-2xx"
        )
    print(
        f"intake: ops serve accepts {ALERTS / ops[0]:,.0f} alerts/s durably (target >= 1,000); "
        f"{ops[0] / empty[0]:.2f}x the empty handler's time; p99 {ops[1] / empty[1]:.1f}x the "
        f"empty handler's (target <= 5x); load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
