"""Time per step of `ops runbook run` against bare `bash -c true` and rundoc, at 10/100/1,000 steps.

Each step is `true`. ops saves its state (the step recorded as starting and synced before it
runs, its pgid and its outcome journalled), fsyncs an audit line and sets up and tears down
the step's process group. rundoc (the Python peer, from PyPI) is installed in its own virtual
environment under the cache directory; if it cannot be installed, its column says why.

The figure per step is the marginal one: (time for N steps - time for 1 step) / (N - 1), so
that each tool's start-up is not spread over the steps; the three tools' runs are interleaved
round by round (151 rounds at 10 steps, 9 at 100, 5 at 1,000; the 1-step and N-step runs of
each tool take turns at going first, ``in_turn``), each round gives its own
marginal figure, and the figure printed is the median of the rounds'. (The best of the rounds,
taken for N steps and for 1 step apart, made the 10-step row swing by a third from run to run:
a difference of two runs of ~150 ms divided by 9; with 21 rounds its median still moved from
0.40x to 0.56x rundoc between idle runs of the same code, and with 51 its bootstrap interval
spanned 0.43-0.65: one round's figure ranges from 0.1 to 2.4 ms per step for ops and from 1.9
to 6.1 ms for rundoc, the start-up of each process varying by +-10 ms, hence 151, whose
interval is about half as wide.) Targets: ops at most 2x bare bash per step,
at most half of rundoc's, and flat from 10 to 1,000 steps. Beside each ops/rundoc ratio, a 95%
bootstrap interval over the rounds (``interval``): a row is met when its upper bound is.

Beside the wall time, the CPU time per step of each tool and its children (getrusage
RUSAGE_CHILDREN, marginal too; for bare bash, the shells' alone): it does not count waiting,
for the disk or for the cores other work holds, so it stays put when the machine is loaded,
where the wall time does not.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import statistics
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


def once(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds of ``run``, and CPU seconds of the processes it started and waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def rounds(steps: int, wanted: int | None = None) -> int:
    """Rounds at ``steps`` steps: ``wanted`` if given (``--rounds``), else enough for the row."""
    if wanted is not None:
        return wanted
    return 151 if steps <= 10 else 9 if steps <= 100 else 5


def write(path: Path, steps: int, attributes: bool) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("---\ntitle: Many steps\nowner: bench\n---\n# Many steps\n\n")
        for number in range(steps):
            info = f' {{"name":"step-{number}"}}' if attributes else ""
            handle.write(f"```bash{info}\ntrue\n```\n\n")
    return path


def ops_run(work: Path, steps: int) -> tuple[float, float]:
    path = write(work / f"ops-{steps}.md", steps, attributes=True)
    argv = [sys.executable, "-m", "ops_toolkit", "runbook", "run", str(path), "--json"]
    argv += ["--non-interactive", "--state-dir", str(work / "state")]
    return once(
        lambda: subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_CACHED
        )
    )


# ops with its bytecode cached, as `pip install` leaves it and as rundoc runs from its own
# environment: where PYTHONDONTWRITEBYTECODE is set, every run compiled ops's modules anew
# (~50 ms of a ~200 ms start), and that noise landed on the 10-step row's marginal figure.
_CACHED = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def rundoc_run(executable: Path, work: Path, steps: int) -> tuple[float, float]:
    # rundoc reads a front matter as text; it has no state or audit to write.
    path = write(work / f"rundoc-{steps}.md", steps, attributes=False)
    return once(
        lambda: subprocess.run(
            [str(executable), "run", str(path)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )


def bare(steps: int) -> tuple[float, float]:
    def run() -> None:
        for _ in range(steps):
            subprocess.run(["bash", "-c", "true"], check=True)

    return once(run)


Figures = dict[str, float | None]  # per-step ms: bare, ops, rundoc
Rounds = dict[str, tuple[list[float], list[float]]]  # each tool's per-round wall and CPU ms


def interval(top: list[float], bottom: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95% bootstrap interval of median(top) / median(bottom), the rounds drawn in pairs.

    The rounds of one run are a sample: the median ratio moved by a tenth between idle runs
    at 10 steps. Resampling the rounds (the same draw for both tools, as they ran side by
    side) says how far it could move on this machine, so a row is judged on its bounds.
    """
    chooser = random.Random(15)  # seeded: the same rounds give the same interval
    count = min(len(top), len(bottom))
    ratios = []
    for _ in range(draws):
        picks = [chooser.randrange(count) for _ in range(count)]
        below = statistics.median(bottom[i] for i in picks)
        if below > 0:
            ratios.append(statistics.median(top[i] for i in picks) / below)
    ratios.sort()
    if not ratios:
        return float("nan"), float("nan")
    return ratios[int(0.025 * len(ratios))], ratios[min(len(ratios) - 1, int(0.975 * len(ratios)))]


def in_turn(
    number: int, run: Callable[[int], tuple[float, float]], steps: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``run(steps)`` and ``run(1)``, the N-step run first in odd rounds, second in even ones.

    A run right after another of the same tool is not timed as one after other work: in one
    idle run at 10 steps with the order fixed (1 step, then 10), ops's marginal figure was
    1.29 ms and rundoc's 3.28 ms; with it swapped, 1.15 and 3.85 (a ratio of 0.39 against
    0.30). Each tool's order effect lands on its own marginal figure, not the same way for
    both, so the rounds take turns and the two orders weigh alike.
    """
    if number % 2:
        many = run(steps)
        return many, run(1)
    one = run(1)
    return run(steps), one


def measure(
    work: Path, peer: Path | str, steps: int, wanted: int | None = None
) -> tuple[Figures, Figures, Rounds]:
    """Per-step ms of bare bash, ops and rundoc, wall and CPU, their runs interleaved.

    Interleaved round by round, so that the load of a shared machine falls on the three
    alike; each round's figure is marginal, (N steps - 1 step) / (N - 1) (bare bash's: N
    steps / N, it has no start-up), and each figure printed is the median of its rounds'.
    """
    per_round: Rounds = {}

    def keep(name: str, figures: tuple[float, float]) -> None:
        walls, cpus = per_round.setdefault(name, ([], []))
        walls.append(figures[0] * 1000)
        cpus.append(figures[1] * 1000)

    def marginal(many: tuple[float, float], one: tuple[float, float]) -> tuple[float, float]:
        return ((many[0] - one[0]) / (steps - 1), (many[1] - one[1]) / (steps - 1))

    for number in range(rounds(steps, wanted)):
        wall, cpu = bare(steps)
        keep("bare", (wall / steps, cpu / steps))
        keep("ops", marginal(*in_turn(number, functools.partial(ops_run, work), steps)))
        if isinstance(peer, Path):
            each = functools.partial(rundoc_run, peer, work)
            keep("rundoc", marginal(*in_turn(number, each, steps)))
    wall_figures: Figures = {"rundoc": None}
    cpu_figures: Figures = {"rundoc": None}
    for name, (walls, cpus) in per_round.items():
        wall_figures[name] = statistics.median(walls)
        cpu_figures[name] = statistics.median(cpus)
    return wall_figures, cpu_figures, per_round


def _ratio(top: float | None, bottom: float | None) -> str:
    return f"{top / bottom:.2f}" if top is not None and bottom else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="steps per run, comma-separated"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds per size (default: 151 at 10 steps, 9 at 100, 5 at 1,000)",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    peer = rundoc()
    if isinstance(peer, str):
        print(f"step_overhead: {peer}; measuring ops against bare bash only")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        print(f"step_overhead: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"{'steps':>6} {'bare ms':>8} {'ops ms':>8} {'rundoc ms':>10} {'ops/bare':>9}"
            f" {'ops/rundoc':>11}  |  CPU ms: {'bare':>5} {'ops':>5} {'rundoc':>6}"
            f" {'ops/bare':>9} {'ops/rundoc':>11}  (per step)"
        )
        bounds: list[str] = []
        for steps in sizes:
            wall, cpu, per_round = measure(work, peer, steps, args.rounds)
            if "rundoc" in per_round:
                low, high = interval(per_round["ops"][0], per_round["rundoc"][0])
                bounds.append(f"{steps} steps {low:.2f}-{high:.2f}")
            print(
                f"{steps:>6} {_ms(wall['bare']):>8} {_ms(wall['ops']):>8}"
                f" {_ms(wall['rundoc']):>10} {_ratio(wall['ops'], wall['bare']):>9}"
                f" {_ratio(wall['ops'], wall['rundoc']):>11}  |  {'':8}"
                f"{_ms(cpu['bare']):>5} {_ms(cpu['ops']):>5} {_ms(cpu['rundoc']):>6}"
                f" {_ratio(cpu['ops'], cpu['bare']):>9} {_ratio(cpu['ops'], cpu['rundoc']):>11}"
            )
        if bounds:
            print(f"ops/rundoc (wall), 95% bootstrap interval over the rounds: {'; '.join(bounds)}")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("targets: ops/bare <= 2, ops/rundoc <= 0.5, ops per step flat from 10 to 1,000")


if __name__ == "__main__":
    main()
