"""Webhook intake: 5,000 alerts in groups of 10, 16 concurrent senders, against `ops serve`
(durable: each 2xx only after the store's commit) and, in the same run, against the same
server stack (uvicorn + starlette) with an empty handler.

The store is SQLite (synchronous=FULL) and PostgreSQL (a throwaway server started here,
with fsync and synchronous_commit on, so a commit is as durable as SQLite's), each with one
replica and with two replicas sharing it (the 16 senders split between them, as a load
balancer would).

Prints alerts per second and p99 latency of each. Targets: at least 1,000 alerts/s
accepted; p99 within 5 times the empty handler's in the same run.
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

from ops_toolkit.demo.postgres import PostgresServer, _run_as
from ops_toolkit.demo.servers import free_port, stop_process, wait_ready

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


def blast(ports: list[int], bodies: list[bytes]) -> tuple[float, float, int]:
    """(seconds, p99 latency, failures) for all bodies over SENDERS keep-alive connections,
    the senders spread over ``ports`` in turn."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    chunks = [bodies[i::SENDERS] for i in range(SENDERS)]

    def send(port: int, chunk: list[bytes]) -> None:
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

    threads = [
        threading.Thread(target=send, args=(ports[i % len(ports)], c)) for i, c in enumerate(chunks)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98]
    return total, p99, failures[0]


def run(
    commands: list[list[str]],
    ports: list[int],
    env: dict[str, str],
    workdir: str,
    bodies: list[bytes],
) -> tuple[float, float, int]:
    """Start one server per command (all listening before the first request), blast them."""
    processes = []
    logs = []
    try:
        for command, port in zip(commands, ports, strict=True):
            log = open(os.path.join(workdir, f"server-{port}.log"), "wb")  # noqa: SIM115
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
                )
            )
        for process, port, log in zip(processes, ports, logs, strict=True):
            wait_ready(f"http://127.0.0.1:{port}/healthz", process, 30, log.name)
        return blast(ports, bodies)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, 30)  # SIGKILL after 30 s: none outlives the benchmark
        for log in logs:
            log.close()


def ops_serve(state: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ops_toolkit",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--state",
        state,
    ]


def replicas(
    state: str, count: int, env: dict[str, str], work: str, bodies: list[bytes]
) -> tuple[float, float, int]:
    ports = [free_port() for _ in range(count)]
    return run([ops_serve(state, p) for p in ports], ports, env, work, bodies)


class DurablePostgres(PostgresServer):
    """The tests' throwaway PostgreSQL, but with fsync and synchronous_commit on: a commit
    that answers a webhook is on disk, as SQLite's synchronous=FULL commit is."""

    def start(self, timeout: float = 30.0) -> DurablePostgres:
        self.init()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    os.path.join(self.bindir, "postgres"),
                    *("-D", self.datadir, "-h", "127.0.0.1", "-p", str(self.port)),
                    *("-k", self.socketdir, "-c", "max_connections=200"),
                    *("-c", "fsync=on", "-c", "synchronous_commit=on"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.basedir,
                start_new_session=True,
                **_run_as(),
            )
        self._wait_ready(timeout)
        return self


def main() -> None:
    bodies = payloads()
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": os.getcwd()}
    env.pop("SLACK_BOT_TOKEN", None)
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as work, DurablePostgres() as postgres:
        port = free_port()
        empty = run([[sys.executable, "-c", EMPTY_APP, str(port)]], [port], env, work, bodies)
        for count in (1, 2):
            state = os.path.join(work, f"state-{count}.db")
            results[f"SQLite, {count} replica{'s' if count > 1 else ''}"] = replicas(
                state, count, env, work, bodies
            )
        for count in (1, 2):
            state = postgres.create_database("bench")
            results[f"PostgreSQL, {count} replica{'s' if count > 1 else ''}"] = replicas(
                state, count, env, work, bodies
            )
    print(f"intake: {ALERTS:,} alerts in {len(bodies):,} requests, {SENDERS} concurrent senders")
    for name, (seconds, p99, failures) in (*results.items(), ("empty handler", empty)):
        print(
            f"intake: {name}: {ALERTS / seconds:,.0f} alerts/s ({len(bodies) / seconds:,.0f} "
            f"requests/s), p99 {p99 * 1000:.1f} ms, {failures} non-2xx"
        )
    for name, (seconds, p99, _) in results.items():
        print(
            f"intake: ops serve on {name} accepts {ALERTS / seconds:,.0f} alerts/s durably "
            f"(target >= 1,000); {seconds / empty[0]:.2f}x the empty handler's time; p99 "
            f"{p99 / empty[1]:.1f}x the empty handler's (target <= 5x)"
        )
    print(f"intake: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
