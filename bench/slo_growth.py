"""How `ops slo` grows with the number of SLOs: 100, 1,000 and 10,000.

For each size: `ops slo validate` and `ops slo rules` (wall time and peak memory of the
process), `promtool check rules` on the generated files (Prometheus's own rule loading: the
baseline), and `ops slo report --use-rules` against a real Prometheus holding the recorded
series of that many SLOs. Printed as a table, with the growth factor per tenfold and the
memory per SLO (the slope of peak memory between 100 and 10,000 SLOs).

Targets (issue 15): from 1,000 to 10,000 SLOs each figure grows at most 10.5 times, stays
within the order of promtool's, and memory stays under 50 KB per SLO.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ops_toolkit.demo.data import backfill, recorded_ratios
from ops_toolkit.demo.servers import PrometheusServer
from ops_toolkit.durations import format_duration
from ops_toolkit.slo.windows import BURN_WINDOWS

SIZES = (100, 1000, 10_000)
PER_FILE = 1000  # an SLO file is at most 1 MiB: a team's SLOs come in many files


def slo_files(folder: Path, count: int) -> None:
    """``count`` availability SLOs, ``PER_FILE`` to a file, one service per file."""
    folder.mkdir(parents=True)
    for first in range(0, count, PER_FILE):
        lines = ["version: ops/v1", f"service: bench-{first // PER_FILE}", "slos:"]
        for number in range(first, min(count, first + PER_FILE)):
            service = f"svc-{number:05d}"
            lines += [
                f"  - name: svc-{number:04d}-availability",
                "    objective: 99.9",
                "    sli:",
                "      ratio:",
                f'        bad: http_requests_total{{service="{service}",code=~"5.."}}',
                f'        total: http_requests_total{{service="{service}"}}',
            ]
        (folder / f"bench-{first // PER_FILE}.yaml").write_text("\n".join(lines) + "\n")


def measured(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one run of ``argv``."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}... failed: {errors.decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def ops(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops_toolkit", *args]


def main() -> None:
    names = [f"slo:error_ratio:{format_duration(w)}" for w in BURN_WINDOWS]
    names.append("slo:error_ratio:period")
    end = int(time.time()) // 60 * 60
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        for size in SIZES:
            folder = work / str(size)
            slos = folder / "slos"
            slo_files(slos, size)
            rules = folder / "alerts"
            rows.setdefault("ops slo validate", {})[size] = measured(
                ops("slo", "validate", str(slos))
            )
            rows.setdefault("ops slo rules", {})[size] = measured(
                ops("slo", "rules", str(slos), "-o", str(rules))
            )
            files = sorted(str(p) for p in rules.glob("*.yaml"))
            rows.setdefault("promtool check rules", {})[size] = measured(
                ["promtool", "check", "rules", *files]
            )
            recorded = recorded_ratios(size, end, names)
            for series in recorded.series:  # each SLO's service is its file's
                number = int(series.labels["slo"].split("-")[1])
                series.labels["service"] = f"bench-{number // PER_FILE}"
            backfill(recorded, str(folder / "tsdb"), str(folder / "om"))
            server = PrometheusServer(str(folder / "prom"), str(folder / "tsdb")).start()
            try:
                report = ops("slo", "report", str(slos), "--use-rules", "--format", "json")
                report += ["--prometheus", server.url, "--at", str(end), "--timeout", "120"]
                measured(report)  # warm Prometheus's caches
                rows.setdefault("ops slo report --use-rules", {})[size] = measured(report)
            finally:
                server.stop()
            print(f"slo_growth: {size} SLOs measured", flush=True)
    header = f"{'':28}" + "".join(f"{size:>16,}" for size in SIZES)
    print(f"{header}   x per tenfold (100->1k, 1k->10k)   MB peak   KB per SLO")
    for name, by_size in rows.items():
        times = "".join(f"{by_size[size][0]:15.2f}s" for size in SIZES)
        growth = by_size[SIZES[2]][0] / by_size[SIZES[1]][0]
        first = by_size[SIZES[0]][0]
        growths = f"{by_size[SIZES[1]][0] / first:.1f}, {growth:.1f}"
        peak = by_size[SIZES[2]][1]
        per_slo = (peak - by_size[SIZES[0]][1]) * 1024 / (SIZES[2] - SIZES[0])
        print(f"{name:28}{times}   {growths:>22}   {peak:7.0f}   {per_slo:10.1f}")
    print(
        f"slo_growth: targets: 1k->10k growth <= 10.5x, within the order of promtool's; "
        f"< 50 KB per SLO; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
