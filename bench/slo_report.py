"""`ops slo report` for 64 SLOs against a real Prometheus holding 30 days of data.

Baseline in the same run: the same PromQL queries sent one after another over plain HTTP.
Target: the report takes at most 0.6x the sequential baseline on 2 cores.
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

from ops_toolkit.demo.data import backfill, synthetic_services, synthetic_slo_file
from ops_toolkit.demo.servers import PrometheusServer
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.evaluate import _plan, evaluate
from ops_toolkit.slo.report import status_document
from ops_toolkit.slo.spec import parse_slo_file

COUNT = 64
ROUNDS = 3


def sequential(url: str, queries: list[str], at: float) -> float:
    start = time.perf_counter()
    for query in queries:
        address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": at})
        with urllib.request.urlopen(address, timeout=60) as response:
            json.load(response)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        end = int(time.time()) // 300 * 300
        started = time.perf_counter()
        backfill(synthetic_services(COUNT, end), f"{work}/tsdb", f"{work}/om")
        print(
            f"slo_report: loaded {COUNT} services x 30 days in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        server = PrometheusServer(f"{work}/prom", f"{work}/tsdb").start()
        try:
            slos = parse_slo_file(synthetic_slo_file(COUNT), "bench.yaml").slos
            queries = [q for p in _plan(slos, end) for q in (p.counted_query, p.total_query)]
            sequential(server.url, queries, end)  # warm the page cache and the server
            baselines, reports = [], []
            for _ in range(ROUNDS):
                baselines.append(sequential(server.url, queries, end))
                start = time.perf_counter()
                statuses = evaluate(slos, PrometheusSource(server.url, timeout=60), end)
                [status_document(s) for s in statuses]
                reports.append(time.perf_counter() - start)
            baseline, report = statistics.median(baselines), statistics.median(reports)
            print(
                f"slo_report: {COUNT} SLOs ({len(queries)} queries): report {report:.2f}s, "
                f"sequential plain HTTP {baseline:.2f}s, ratio {report / baseline:.2f}x "
                "(target <= 0.6x)"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
