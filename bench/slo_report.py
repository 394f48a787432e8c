"""`ops slo report` against a real Prometheus: direct queries and --use-rules.

Part 1: 64 SLOs over 30 days of raw counters; the report's wall time against the same PromQL
queries sent one after another over plain HTTP (target: at most 0.6x).
Part 2: 1,000 SLOs, direct queries (over 2 days of raw counters, so the backfill stays short)
against --use-rules reading recorded series (target: under 2 s with rules).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ops_toolkit.demo.data import (
    Dataset,
    backfill,
    recorded_ratios,
    synthetic_services,
    synthetic_slo_file,
)
from ops_toolkit.demo.servers import PrometheusServer
from ops_toolkit.durations import format_duration
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.evaluate import _plan, evaluate, evaluate_recorded
from ops_toolkit.slo.model import SLO
from ops_toolkit.slo.report import status_document
from ops_toolkit.slo.spec import parse_slo_file
from ops_toolkit.slo.windows import BURN_WINDOWS

ROUNDS = 3


def sequential(url: str, queries: list[str], at: float) -> float:
    start = time.perf_counter()
    for query in queries:
        address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": at})
        with urllib.request.urlopen(address, timeout=60) as response:
            json.load(response)
    return time.perf_counter() - start


def timed(run: object, slos: tuple[SLO, ...], url: str, at: float) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        statuses = run(slos, PrometheusSource(url, timeout=120), at)  # type: ignore[operator]
        [status_document(s) for s in statuses]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loaded(work: str, *datasets: Dataset) -> PrometheusServer:
    for number, dataset in enumerate(datasets):
        backfill(dataset, f"{work}/tsdb", f"{work}/om{number}")
    return PrometheusServer(f"{work}/prom", f"{work}/tsdb").start()


def part_one(end: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        server = loaded(work, synthetic_services(64, end))
        print(
            f"slo_report: 64 services x 30 days loaded in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        try:
            slos = parse_slo_file(synthetic_slo_file(64), "bench.yaml").slos
            queries = [q for p in _plan(slos, end) for q in (p.counted_query, p.total_query)]
            sequential(server.url, queries, end)  # warm the page cache and the server
            baseline = statistics.median(
                sequential(server.url, queries, end) for _ in range(ROUNDS)
            )
            report = timed(evaluate, slos, server.url, end)
            print(
                f"slo_report: 64 SLOs ({len(queries)} queries): report {report:.2f}s, sequential "
                f"plain HTTP {baseline:.2f}s, ratio {report / baseline:.2f}x (target <= 0.6x)"
            )
        finally:
            server.stop()


def part_two(end: int) -> None:
    names = [f"slo:error_ratio:{format_duration(w)}" for w in BURN_WINDOWS]
    names.append("slo:error_ratio:period")
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        server = loaded(
            work, synthetic_services(1000, end, days=2), recorded_ratios(1000, end, names)
        )
        print(
            f"slo_report: 1,000 services x 2 days + recorded series loaded in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
        try:
            slos = parse_slo_file(synthetic_slo_file(1000), "bench.yaml").slos
            with_rules = timed(evaluate_recorded, slos, server.url, end)
            found = sum(
                s.budget_remaining is not None
                for s in evaluate_recorded(slos, PrometheusSource(server.url), end)
            )
            print(f"slo_report: --use-rules found recorded ratios for {found} of {len(slos)} SLOs")
            direct = timed(evaluate, slos, server.url, end)
            print(
                f"slo_report: 1,000 SLOs: --use-rules {with_rules:.2f}s ({len(names)} queries; "
                f"target < 2s), direct {direct:.2f}s ({len(slos) * 16} queries), ratio "
                f"{with_rules / direct:.3f}x"
            )
        finally:
            server.stop()


def main() -> None:
    end = int(time.time()) // 300 * 300
    part_one(end)
    part_two(end)


if __name__ == "__main__":
    main()
