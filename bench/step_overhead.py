"""Time per step of `ops runbook run` against bare `bash -c true` and rundoc, at 10/100/1,000 steps.

Each step is `true`. ops saves its state (the step recorded as starting and synced before it
runs, its pgid and its outcome journalled), fsyncs an audit line and sets up and tears down
the step's process group. rundoc (the Python peer, from PyPI) is installed in its own virtual
environment under the cache directory; if it cannot be installed, its column says why.

The figure per step is the marginal one: (time for N steps - time for 1 step) / (N - 1), so
that each tool's start-up is not spread over the steps; each time is the best of a few runs. Targets: ops at most 2x bare bash per
step, at most half of rundoc's, and flat from 10 to 1,000 steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZES = (10, 100, 1000)
RUNDOC_VERSION = "0.4.5"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ops-bench"


def rundoc() -> Path | str:
    """The rundoc executable, installed once into its own venv; or why it cannot be."""
    venv = CACHE / f"rundoc-{RUNDOC_VERSION}"
    executable = venv / "bin" / "rundoc"
    if executable.exists():
        return executable
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"rundoc=={RUNDOC_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        return f"rundoc could not be installed: {(exc.stderr or '').strip().splitlines()[-1:]}"
    return executable


def timed(run: Callable[[], object], repeats: int) -> float:
    """The best of ``repeats`` runs: the machine is shared, and noise only adds time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def repeats(steps: int) -> int:
    return 7 if steps <= 10 else 3 if steps <= 100 else 2


def write(path: Path, steps: int, attributes: bool) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("---\ntitle: Many steps\nowner: bench\n---\n# Many steps\n\n")
        for number in range(steps):
            info = f' {{"name":"step-{number}"}}' if attributes else ""
            handle.write(f"```bash{info}\ntrue\n```\n\n")
    return path


def ops_run(work: Path, steps: int) -> float:
    path = write(work / f"ops-{steps}.md", steps, attributes=True)
    argv = [sys.executable, "-m", "ops_toolkit", "runbook", "run", str(path), "--json"]
    argv += ["--non-interactive", "--state-dir", str(work / "state")]
    return timed(
        lambda: subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
        repeats(steps),
    )


def rundoc_run(executable: Path, work: Path, steps: int) -> float:
    # rundoc reads a front matter as text; it has no state or audit to write.
    path = write(work / f"rundoc-{steps}.md", steps, attributes=False)
    return timed(
        lambda: subprocess.run(
            [str(executable), "run", str(path)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        repeats(steps),
    )


def bare(steps: int) -> float:
    def run() -> None:
        for _ in range(steps):
            subprocess.run(["bash", "-c", "true"], check=True)

    return timed(run, repeats(steps))


def main() -> None:
    peer = rundoc()
    if isinstance(peer, str):
        print(f"step_overhead: {peer}; measuring ops against bare bash only")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        ops_one = ops_run(work, 1)
        peer_one = rundoc_run(peer, work, 1) if isinstance(peer, Path) else 0.0
        print(
            f"step_overhead: start-up ops {ops_one * 1000:.0f} ms"
            + (f", rundoc {peer_one * 1000:.0f} ms" if isinstance(peer, Path) else "")
            + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(
            f"{'steps':>6} {'bare ms':>8} {'ops ms':>8} {'rundoc ms':>10} {'ops/bare':>9}"
            f" {'ops/rundoc':>11}  (per step)"
        )
        for steps in SIZES:
            bare_ms = bare(steps) / steps * 1000
            ops_ms = (ops_run(work, steps) - ops_one) / (steps - 1) * 1000
            if isinstance(peer, Path):
                peer_ms = (rundoc_run(peer, work, steps) - peer_one) / (steps - 1) * 1000
                peer_text, ratio = f"{peer_ms:10.2f}", f"{ops_ms / peer_ms:11.2f}"
            else:
                peer_text, ratio = f"{'-':>10}", f"{'-':>11}"
            print(
                f"{steps:>6} {bare_ms:8.2f} {ops_ms:8.2f} {peer_text} {ops_ms / bare_ms:9.2f}"
                f" {ratio}"
            )
    print("targets: ops/bare <= 2, ops/rundoc <= 0.5, ops per step flat from 10 to 1,000")


if __name__ == "__main__":
    main()
