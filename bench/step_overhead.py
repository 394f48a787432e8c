"""200 trivial steps through `ops runbook run` against 200 bare `bash -c true` subprocesses.

Prints the overhead per step in ms (state written and fsynced after every step, audit line
fsynced, process group set up and torn down). Target: under 10 ms per step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

STEPS = 200


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "many.md")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("---\ntitle: Many steps\nowner: bench\n---\n# Many steps\n\n")
            for number in range(STEPS):
                handle.write(f'```bash {{"name":"step-{number}"}}\ntrue\n```\n\n')
        start = time.perf_counter()
        for _ in range(STEPS):
            subprocess.run(["bash", "-c", "true"], check=True)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ops_toolkit",
                "runbook",
                "run",
                path,
                "--json",
                "--non-interactive",
                "--state-dir",
                os.path.join(work, "state"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - start
    overhead = (elapsed - baseline) / STEPS * 1000
    print(
        f"step_overhead: {STEPS} steps via ops {elapsed:.2f}s, {STEPS} bare bash -c true "
        f"{baseline:.2f}s; overhead {overhead:.2f} ms per step (target < 10 ms), "
        f"ratio {elapsed / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
