"""`ops slo report` against slo-generator 2.6.0 on the same 30 days of data in a real Prometheus.

slo-generator (Google's SLO tool, from PyPI) is installed in its own virtual environment
under the cache directory, with `setuptools<81` (it imports pkg_resources). 64 services x
30 days of request counters (5-minute steps) are backfilled into one Prometheus.

Case 1: 8 services x 8 objectives over the same good/total selectors (64 SLOs).
Case 2: 64 services, one SLO each (64 distinct selectors).

slo-generator computes its 4 windows (1h, 6h, 3d, 30d) one query after another; ops computes
its period and 7 burn windows. Both are run as a new process each time (start-up included),
once with the cores idle and once with both cores kept busy by a CPU burner that this
benchmark starts and stops. Each tool is run once untimed first (the first run of a case
paid Prometheus's cold caches: twice its CPU of later runs), then ROUNDS times (5; ``--rounds``)
in turn with the others, and the medians are printed: wall time, the tool's own CPU (with
its children), and Prometheus's CPU while it ran (a mean: it is read in 10 ms ticks). slo-generator's Prometheus backend always queries at
"now", so its queries pin the same time as ops's `--at` with PromQL's `@` modifier, and the
budgets can be compared: the largest difference of (1 - error rate / budget) between the
tools on the windows both compute is printed.

ops is measured as installed, as slo-generator is: its package and bytecode (compiled as
`pip install` compiles it) in a virtual environment of its own, its dependencies beside. Run
from this checkout instead (editable install: setuptools' import hook at every start; and no
bytecode cache where PYTHONDONTWRITEBYTECODE is set) it paid ~30-50 ms of CPU more per run:
that figure is printed too.

The SLIs are compared as well: slo-generator rounds its SLI to 6 places
(``round(good / (good + bad), 6)``), so the largest difference of ops's SLI (from its JSON:
8 places for the period, burn rate x budget for the other windows, within 1e-8) against
it should be at most 5e-7; the budget differences that remain come from that rounding,
which the budget divides by (1 - objective).

Targets (issue 15): ops/peer <= 0.1 on case 1 and <= 0.5 on case 2, idle and busy alike;
the same budgets to 4 decimal places.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import signal
import site
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ops_toolkit.demo.data import backfill, synthetic_services
from ops_toolkit.demo.servers import PrometheusServer

ROOT = Path(__file__).resolve().parent.parent
PEER_VERSION = "2.6.0"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ops-bench"
PEER_WINDOWS = {"1h": 3600, "6h": 6 * 3600, "3d": 3 * 86400, "30d": 30 * 86400}
OBJECTIVES = (99.0, 99.5, 99.8, 99.9, 99.92, 99.95, 99.97, 99.99)
ROUNDS = 5  # timed runs of each tool per case, alternating; medians are printed

# Runs inside slo-generator's venv: its own compute() for every SLO config of a folder, as
# its CLI does, printing the reports as JSON.
PEER_DRIVER = """
import json, logging, sys, warnings
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
from slo_generator import utils
from slo_generator.compute import compute
config = utils.load_config(sys.argv[2])
reports = {}
for slo in utils.load_configs(sys.argv[1], kind="ServiceLevelObjective"):
    reports[slo["metadata"]["name"]] = compute(slo, config, timestamp=float(sys.argv[3]))
json.dump(reports, sys.stdout)
"""


def peer_python() -> Path | str:
    """slo-generator's interpreter, installed once; or why it cannot be."""
    venv = CACHE / f"slo-generator-{PEER_VERSION}"
    python = venv / "bin" / "python"
    if (venv / "bin" / "slo-generator").exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                f"slo-generator[prometheus]=={PEER_VERSION}",
                "setuptools<81",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or "").strip().splitlines()
        return f"slo-generator {PEER_VERSION} could not be installed: {lines[-1:] or exc}"
    return python


def installed_ops(work: Path) -> Path:
    """The ``ops`` command laid out as a wheel install would: the package and its bytecode
    in a virtual environment's site-packages (no editable-install hook), the dependencies
    of this environment on its path, and the console script pip writes (``python -m
    ops_toolkit`` imports runpy first: ~3 ms of CPU that ``ops`` does not pay)."""
    venv = work / "ops-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    package = purelib / "ops_toolkit"
    shutil.copytree(ROOT / "ops_toolkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(str(package), quiet=1)  # as pip does at install
    # a path line, not a site directory: the dependencies' own .pth hooks are not run
    (purelib / "ops-bench-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    script = venv / "bin" / "ops"
    script.write_text(CONSOLE_SCRIPT.format(python=python.absolute()))
    script.chmod(0o755)
    return script


# What pip writes for `[project.scripts] ops = "ops_toolkit.cli:main"`.
CONSOLE_SCRIPT = """#!{python}
import re
import sys
from ops_toolkit.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


def selectors(service: str) -> tuple[str, str]:
    good = f'http_requests_total{{service="{service}",code!~"5.."}}'
    return good, f'http_requests_total{{service="{service}"}}'


def case_slos(case: int) -> list[tuple[str, str, float]]:
    """(name, service, objective) of the 64 SLOs of a case."""
    if case == 1:
        return [
            (f"svc-{s:04d}-avail-{o}".replace(".", "-"), f"svc-{s:04d}", objective)
            for s in range(8)
            for o, objective in enumerate(OBJECTIVES)
        ]
    return [(f"svc-{s:04d}-avail", f"svc-{s:04d}", 99.9) for s in range(64)]


def write_ops(path: Path, slos: list[tuple[str, str, float]]) -> None:
    lines = ["version: ops/v1", "service: bench", "slos:"]
    for name, service, objective in slos:
        good, total = selectors(service)
        lines += [
            f"  - name: {name}",
            f"    objective: {objective}",
            "    window: 30d",
            "    sli:",
            "      ratio:",
            f"        good: '{good}'",
            f"        total: '{total}'",
        ]
    path.write_text("\n".join(lines) + "\n")


def write_peer(folder: Path, config: Path, slos: list[tuple[str, str, float]], url: str, at: int):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    for name, service, objective in slos:
        good, total = selectors(service)
        document = {
            "apiVersion": "sre.google.com/v2",
            "kind": "ServiceLevelObjective",
            "metadata": {
                "name": name,
                "labels": {"service_name": "bench", "feature_name": service, "slo_name": name},
            },
            "spec": {
                "description": f"{name} availability",
                "backend": "prometheus",
                "method": "good_bad_ratio",
                "exporters": [],
                "service_level_indicator": {
                    "filter_good": f"{good}[window] @ {at}",
                    "filter_valid": f"{total}[window] @ {at}",
                },
                "goal": round(objective / 100, 6),
            },
        }
        (folder / f"{name}.yaml").write_text(json.dumps(document))  # JSON is YAML
    steps = [
        {
            "name": label,
            "window": seconds,
            "burn_rate_threshold": 1,
            "alert": False,
            "message_alert": "burning",
            "message_ok": "ok",
        }
        for label, seconds in PEER_WINDOWS.items()
    ]
    config.write_text(
        json.dumps(
            {
                "backends": {"prometheus": {"url": url}},
                "exporters": {},
                "error_budget_policies": {"default": {"steps": steps}},
            }
        )
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Runs:
    """What one tool did over the timed runs of a case: wall and CPU seconds per run (its
    own, with its children; Prometheus's while it ran), and its last output."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    server_cpus: list[float] = field(default_factory=list)
    output: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def server_cpu(self) -> float:
        """The mean, not the median: Prometheus's CPU is read in clock ticks (10 ms), and a
        mean of N runs resolves 10/N ms."""
        return statistics.fmean(self.server_cpus)


def once(argv: list[str], server: int, cwd: Path | None, runs: Runs | None) -> None:
    """One run of ``argv``; recorded in ``runs`` unless it is the warm-up (None)."""
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(server)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=cwd)
    wall = time.perf_counter() - start
    server_after = cpu_seconds(server)
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if runs is None:
        return
    runs.walls.append(wall)
    runs.cpus.append(
        own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime
    )
    runs.server_cpus.append(server_after - server_before)
    runs.output = done.stdout


def alternating(tools: dict[str, tuple[list[str], Path | None]], server: int) -> dict[str, Runs]:
    """Each tool run once untimed (Prometheus's caches warm for every tool alike: the first
    run of a case used to pay them, 0.14 s of its CPU against 0.07 s later), then ROUNDS
    timed runs of each, in turn, so that a change of load meets every tool alike."""
    runs = {name: Runs() for name in tools}
    for argv, cwd in tools.values():
        once(argv, server, cwd, None)
    for _ in range(ROUNDS):
        for name, (argv, cwd) in tools.items():
            once(argv, server, cwd, runs[name])
    return runs


def ops_budgets(output: str, sli_digits: int | None = None) -> dict[tuple[str, str], float]:
    """(SLO name, window) -> 1 - error rate / budget, from `ops slo report --format json`.

    ``sli_digits`` rounds the SLI first, as slo-generator does (to 6 places): with a budget
    of 0.01% that rounding alone moves the budget by up to 0.5%.
    """
    found = {}
    for slo in json.loads(output):
        budget = 1 - slo["objective"] / 100
        rates = {w: r for w, r in slo["burn_rates"].items() if w in PEER_WINDOWS}
        if slo["total"]:
            rates["30d"] = 1 - slo["budget_remaining"]
        for window, rate in rates.items():
            if rate is None:
                continue
            if sli_digits is not None:
                rate = (1 - round(1 - rate * budget, sli_digits)) / budget
            found[(slo["slo"], window)] = 1 - rate
    return found


def ops_slis(output: str) -> dict[tuple[str, str], float]:
    """(SLO name, window) -> ops's SLI: the period's as printed (8 places), the other
    windows' from the burn rate (6 places) times the budget."""
    found = {}
    for slo in json.loads(output):
        budget = 1 - slo["objective"] / 100
        for window, rate in slo["burn_rates"].items():
            if window in PEER_WINDOWS and rate is not None:
                found[(slo["slo"], window)] = 1 - rate * budget
        if slo["sli"] is not None:
            found[(slo["slo"], "30d")] = slo["sli"]
    return found


def peer_slis(output: str) -> dict[tuple[str, str], float]:
    return {
        (name, report["error_budget_policy_step_name"]): report["sli_measurement"]
        for name, reports in json.loads(output).items()
        for report in reports
        if report.get("valid", True) and report["error_budget_target"]
    }


def peer_budgets(output: str) -> dict[tuple[str, str], float]:
    found = {}
    for name, reports in json.loads(output).items():
        for report in reports:
            if report.get("valid", True) and report["error_budget_target"]:
                consumed = report["error_budget_measurement"] / report["error_budget_target"]
                found[(name, report["error_budget_policy_step_name"])] = 1 - consumed
    return found


@contextmanager
def cpu_burner(busy: bool) -> Iterator[None]:
    """Both cores kept busy by two spinning processes, stopped (by pid) afterwards."""
    burners = []
    if busy:
        for _ in range(os.cpu_count() or 2):
            burners.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    try:
        yield
    finally:
        for burner in burners:
            burner.send_signal(signal.SIGKILL)
            burner.wait()


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed runs of each tool")
    ROUNDS = max(1, parser.parse_args().rounds)
    peer = peer_python()
    if isinstance(peer, str):
        print(f"slo_peer: {peer}; measuring ops only")
    end = int(time.time()) // 300 * 300
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        ops = installed_ops(work)
        started = time.perf_counter()
        backfill(synthetic_services(64, end), str(work / "tsdb"), str(work / "om"))
        server = PrometheusServer(str(work / "prom"), str(work / "tsdb")).start()
        print(f"slo_peer: 64 services x 30 days loaded in {time.perf_counter() - started:.1f}s")
        try:
            for case in (1, 2):
                slos = case_slos(case)
                ops_file = work / f"case{case}.yaml"
                write_ops(ops_file, slos)
                if isinstance(peer, Path):
                    write_peer(
                        work / f"peer{case}", work / f"peer{case}.json", slos, server.url, end
                    )
                report = ["slo", "report", str(ops_file)]
                report += ["--prometheus", server.url, "--at", str(end), "--format", "json"]
                report += ["--timeout", "120"]
                ops_argv = [str(ops), *report]
                checkout_argv = [sys.executable, "-m", "ops_toolkit", *report]
                peer_argv = [str(peer), "-c", PEER_DRIVER, str(work / f"peer{case}")]
                peer_argv += [str(work / f"peer{case}.json"), str(end)]
                for busy in (False, True):
                    assert server.process is not None
                    pid = server.process.pid
                    tools = {"ops": (ops_argv, work), "checkout": (checkout_argv, ROOT)}
                    if isinstance(peer, Path):
                        tools["peer"] = (peer_argv, None)
                    with cpu_burner(busy):
                        runs = alternating(tools, pid)
                    label = f"{'busy' if busy else 'idle'}, load {os.getloadavg()[0]:.1f}"
                    ours_run, checkout = runs["ops"], runs["checkout"]
                    ops_out = ours_run.output
                    assert checkout.output == ops_out, "the installed ops answered differently"
                    line = (
                        f"slo_peer: case {case} ({label}): ops {ours_run.wall:.3f}s (CPU: ops"
                        f" {ours_run.cpu:.3f}s, Prometheus {ours_run.server_cpu:.3f}s; from the"
                        f" checkout {checkout.wall:.3f}s, CPU {checkout.cpu:.3f}s)"
                    )
                    if isinstance(peer, Path):
                        peer_run = runs["peer"]
                        peer_out = peer_run.output
                        theirs = peer_budgets(peer_out)
                        ours, rounded = ops_budgets(ops_out), ops_budgets(ops_out, 6)
                        shared = sorted(set(ours) & set(theirs))
                        difference = max(abs(ours[k] - theirs[k]) for k in shared)
                        same_sli = max(abs(rounded[k] - theirs[k]) for k in shared)
                        our_slis, their_slis = ops_slis(ops_out), peer_slis(peer_out)
                        both = sorted(set(our_slis) & set(their_slis))
                        sli_gap = max(abs(our_slis[k] - their_slis[k]) for k in both)
                        target = 0.1 if case == 1 else 0.5
                        line += (
                            f", slo-generator {peer_run.wall:.2f}s (CPU: itself"
                            f" {peer_run.cpu:.2f}s, Prometheus {peer_run.server_cpu:.2f}s), ratio"
                            f" {ours_run.wall / peer_run.wall:.3f}"
                            f" (target <= {target}); largest budget difference {difference:.1e}"
                            f" ({same_sli:.1e} once ops's SLI is rounded to 6 places as"
                            f" slo-generator's is) over {len(shared)} (SLO, window) pairs;"
                            f" largest SLI difference {sli_gap:.1e} (slo-generator rounds its"
                            f" SLI to 6 places: <= 5e-7 is that rounding) over {len(both)} pairs"
                        )
                    print(line, flush=True)
        finally:
            server.stop()
    print(f"slo_peer: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")


if __name__ == "__main__":
    main()
