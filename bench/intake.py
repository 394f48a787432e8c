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

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import NamedTuple

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


class Figures(NamedTuple):
    """One run: wall seconds, p99 latency (seconds), non-2xx answers, and the CPU seconds
    the server processes used meanwhile (all their threads: the least noisy figure on a
    shared machine, since it does not count waiting for the cores or the disk)."""

    seconds: float
    p99: float
    failures: int
    cpu: float


def processed(ports: list[int], timeout: float = 120.0) -> None:
    """Wait until no ``ops serve`` has a payload left to process (its inbox gauge is 0)."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
            connection.close()
            if "\nops_inbox_depth 0.0\n" in text:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"intake: payloads still unprocessed after {timeout:g}s")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process (all its threads) so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    *,
    settle: bool = False,
) -> Figures:
    """Start one server per command (all listening before the first request), blast them.
    ``settle``: count the servers' CPU until every payload is processed, not only accepted
    (what ``ops serve`` does after its answer is its work too)."""
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
        before = sum(cpu_seconds(process.pid) for process in processes)
        seconds, p99, failures = blast(ports, bodies)
        if settle:
            processed(ports)
        cpu = sum(cpu_seconds(process.pid) for process in processes) - before
        return Figures(seconds, p99, failures, cpu)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, 30)  # SIGKILL after 30 s: none outlives the benchmark
        for log in logs:
            log.close()


def ops_serve(port: int) -> list[str]:
    return [sys.executable, "-m", "ops_toolkit", "serve", "--listen", f"127.0.0.1:{port}"]


def replicas(
    state: str, count: int, env: dict[str, str], work: str, bodies: list[bytes]
) -> Figures:
    """``count`` servers on ``state``, given in ``OPS_STATE``: ops refuses a PostgreSQL URL
    with its password on the command line (every local user can read it there)."""
    ports = [free_port() for _ in range(count)]
    env = {**env, "OPS_STATE": state}
    return run([ops_serve(p) for p in ports], ports, env, work, bodies, settle=True)


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


CASES = (
    "SQLite, 1 replica",
    "SQLite, 2 replicas",
    "PostgreSQL, 1 replica",
    "PostgreSQL, 2 replicas",
)


def main() -> None:
    """``--only sqlite1,pg1`` runs some cases (sqlite1, sqlite2, pg1, pg2); ``--rounds N``
    repeats the empty handler and those cases N times, alternating, and prints the medians
    (for A/B comparisons on a shared machine, where one run is noise)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="sqlite1,sqlite2,pg1,pg2")
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()
    short = {"sqlite1": CASES[0], "sqlite2": CASES[1], "pg1": CASES[2], "pg2": CASES[3]}
    chosen = [short[name] for name in options.only.split(",")]
    bodies = payloads()
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": os.getcwd()}
    env.pop("SLACK_BOT_TOKEN", None)
    rounds: dict[str, list[Figures]] = {name: [] for name in (*chosen, "empty")}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as work, DurablePostgres() as postgres:
        for round_number in range(options.rounds):
            port = free_port()
            rounds["empty"].append(
                run([[sys.executable, "-c", EMPTY_APP, str(port)]], [port], env, work, bodies)
            )
            for name in chosen:
                count = 2 if "2" in name else 1
                if name.startswith("SQLite"):
                    state = os.path.join(work, f"state-{count}-{round_number}.db")
                else:
                    state = postgres.create_database(f"bench{count}r{round_number}")
                rounds[name].append(replicas(state, count, env, work, bodies))
            loads.append(os.getloadavg()[0])
    results = {name: _median(runs) for name, runs in rounds.items()}
    empty = results.pop("empty")
    how = f"median of {options.rounds} alternating runs" if options.rounds > 1 else "one run"
    print(
        f"intake: {ALERTS:,} alerts in {len(bodies):,} requests, {SENDERS} concurrent senders "
        f"({how})"
    )
    for name, figures in (*results.items(), ("empty handler", empty)):
        print(
            f"intake: {name}: {ALERTS / figures.seconds:,.0f} alerts/s "
            f"({len(bodies) / figures.seconds:,.0f} requests/s), p99 {figures.p99 * 1000:.1f} ms, "
            f"{figures.failures} non-2xx; server CPU {figures.cpu / len(bodies) * 1000:.2f} ms "
            "per request (ops serve: until every payload is processed)"
        )
    for name, figures in results.items():
        print(
            f"intake: ops serve on {name} accepts {ALERTS / figures.seconds:,.0f} alerts/s "
            f"durably (target >= 1,000); {figures.seconds / empty.seconds:.2f}x the empty "
            f"handler's time; p99 {figures.p99 / empty.p99:.1f}x the empty handler's (target "
            f"<= 5x); CPU per request {figures.cpu / empty.cpu:.1f}x the empty handler's"
        )
    shown = ", ".join(f"{load:.1f}" for load in loads)
    print(f"intake: load average {shown} (start, after each round) on {os.cpu_count()} cores")


def _median(runs: list[Figures]) -> Figures:
    """Each figure's median over the runs (failures: the most)."""
    return Figures(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.p99 for r in runs),
        max(r.failures for r in runs),
        statistics.median(r.cpu for r in runs),
    )


if __name__ == "__main__":
    main()
