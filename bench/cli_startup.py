"""`ops --help` against `python -c pass`, as a ratio. Target: at most 5x.

Reports, does not assert: startup is whatever imports `ops --help` pulls in.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def best_of(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = best_of([sys.executable, "-c", "pass"])
    ops = best_of([sys.executable, "-m", "ops_toolkit", "--help"])
    print(
        f"cli_startup: ops --help {ops * 1000:.1f} ms, python -c pass {baseline * 1000:.1f} ms, "
        f"ratio {ops / baseline:.2f}x (target <= 5x)"
    )


if __name__ == "__main__":
    main()
