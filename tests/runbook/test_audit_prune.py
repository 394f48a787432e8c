"""``ops runbook audit --prune``: execution-history retention, as Rundeck has, on demand only.

A finished run's lines go once its last line is older than the retention; runs in progress
or resumable (failed, aborted, waiting) and lines whose age is unknown stay. The trail is
rewritten beside itself and renamed over, under the lock runs append with: a crash leaves
the old file or the new one, and a run appending meanwhile loses no line.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.runbook.audit import AuditLog, Pruned
from ops_toolkit.runbook.execute import RunOptions, World, start_run
from ops_toolkit.runbook.state import StateStore
from tests.runbook.test_execute import make_runbook, step, world

OLD = float(calendar.timegm((2020, 1, 1, 3, 0, 0, 0, 0, 0)))
NEW = float(calendar.timegm((2020, 6, 1, 3, 0, 0, 0, 0, 0)))
CUT = float(calendar.timegm((2020, 3, 1, 0, 0, 0, 0, 0, 0)))


def at(base: World, clock: Callable[[], float]) -> World:
    return dataclasses.replace(base, clock=clock)


def pinned(when: float) -> Callable[[], float]:
    return lambda: when


def spanning(start: float, end: float) -> Callable[[], float]:
    """A clock that says ``start`` once, then ``end``: a run that began before the cut
    and went on after it (its lines span it)."""
    said: list[float] = []

    def clock() -> float:
        said.append(start if not said else end)
        return said[-1]

    return clock


def history(tmp_path: Path, recent: float = NEW) -> dict[str, str]:
    """Four runs in the trail of ``tmp_path / "state"``: old and succeeded, old and failed,
    one spanning the cut, and a recent one; their ids by name."""
    base = world(tmp_path)
    ok = make_runbook(tmp_path, step("one", "true"), name="ok.md")
    failing = make_runbook(tmp_path, step("one", "false"), name="failing.md")
    runs = {
        "old": start_run(ok, RunOptions(), at(base, pinned(OLD))),
        "failed": start_run(failing, RunOptions(), at(base, pinned(OLD))),
        "spanning": start_run(ok, RunOptions(), at(base, spanning(OLD, recent))),
        "recent": start_run(ok, RunOptions(), at(base, pinned(recent))),
    }
    assert [r.status for r in runs.values()] == ["succeeded", "failed", "succeeded", "succeeded"]
    return {name: record.run_id for name, record in runs.items()}


def run_ids(path: Path) -> list[str | None]:
    return [json.loads(line).get("run_id") for line in path.read_text().splitlines()]


def test_a_finished_runs_old_lines_go_and_unfinished_or_recent_ones_stay(tmp_path: Path) -> None:
    ids = history(tmp_path)
    path = tmp_path / "state" / "audit.jsonl"
    with open(path, "a") as handle:
        handle.write('{"event": "run_started", "run_id": "cut-sh\n')  # damaged: age unknown
        handle.write('{"event":"note","time":"2019-12-31T00:00:00Z"}\n')  # no run, old
    before = path.read_text().splitlines()
    old_lines = [line for line in before if f'"run_id":"{ids["old"]}"' in line]
    assert len(old_lines) >= 3  # started, the step, finished
    store = StateStore(str(tmp_path / "state"))
    assert store.unfinished() == {ids["failed"]}
    pruned = AuditLog(str(path)).prune(CUT, store.unfinished())
    after = path.read_text().splitlines()
    assert pruned == Pruned(removed=len(old_lines) + 1, kept=len(before) - len(old_lines) - 1)
    assert after == [
        line for line in before if line not in old_lines and '"event":"note"' not in line
    ]
    assert {json.loads(line)["run_id"] for line in after[:-1]} == {
        ids["failed"],
        ids["spanning"],
        ids["recent"],
    }
    assert after[-1] == '{"event": "run_started", "run_id": "cut-sh'


def test_nothing_to_prune_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    history(tmp_path)
    path = tmp_path / "state" / "audit.jsonl"
    inode = path.stat().st_ino
    assert AuditLog(str(path)).prune(OLD - 1, set()).removed == 0
    assert path.stat().st_ino == inode
    assert AuditLog(str(tmp_path / "none.jsonl")).prune(CUT, set()) == Pruned(0, 0)


def test_a_prune_that_fails_before_the_rename_leaves_the_trail_whole(tmp_path: Path) -> None:
    history(tmp_path)
    path = tmp_path / "state" / "audit.jsonl"
    before = path.read_bytes()

    def crash() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(Exception) as raised:
        AuditLog(str(path)).prune(CUT, set(), before_replace=crash)
    assert str(raised.value) == f"{path}: cannot write the audit trail: No space left on device"
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["audit.jsonl", "runs"]


def test_a_run_appending_while_the_trail_is_pruned_loses_no_line(tmp_path: Path) -> None:
    """The run's first append opens the trail and waits for its lock, held by the prune;
    the prune renames the new trail over it and lets go. Before, the run's line went into
    the old file, unlinked: its start was missing from the trail."""
    history(tmp_path)
    state = tmp_path / "state"
    path = state / "audit.jsonl"
    runbook = tmp_path / "late.md"
    runbook.write_text('---\ntitle: Late\nowner: team\n---\n```sh {"name":"one"}\ntrue\n```\n')
    started: list[subprocess.Popen[str]] = []

    def run_meanwhile() -> None:
        inode = path.stat().st_ino
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "ops_toolkit", "runbook", "run", str(runbook), "--json"),
                *("--state-dir", str(state), "--non-interactive"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        deadline = time.monotonic() + 60
        while not waiting_for_flock(inode):  # the run is blocked on the lock the prune holds
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never waited for the lock"
            time.sleep(0.01)

    pruned = AuditLog(str(path)).prune(CUT, set(), before_replace=run_meanwhile)
    assert pruned.removed > 0
    (process,) = started
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    run_id = json.loads(stdout)["run_id"]
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in events if e.get("run_id") == run_id] == [
        "run_started",
        "step_finished",
        "run_finished",
    ]


def waiting_for_flock(inode: int) -> bool:
    """Whether a process waits for a flock on the file ``inode`` (/proc/locks: ``->``)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields and fields[-3].split(":")[-1] == str(inode):
            return True
    return False


def test_the_cli_prunes_with_older_than_and_keeps_the_files_mode(
    tmp_path: Path, runner: CliRunner
) -> None:
    ids = history(tmp_path, recent=time.time())
    path = tmp_path / "state" / "audit.jsonl"
    path.chmod(0o640)
    before = path.read_text().splitlines()
    gone = [line for line in before if f'"run_id":"{ids["old"]}"' in line]
    state = str(tmp_path / "state")
    args = ["runbook", "audit", "--prune", "--older-than", "90d", "--state-dir", state]
    result = runner.invoke(main, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {k: document[k] for k in ("path", "removed", "kept", "older_than")} == {
        "path": str(path),
        "removed": len(gone),
        "kept": len(before) - len(gone),
        "older_than": "90d",
    }
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert set(run_ids(path)) == {ids["failed"], ids["spanning"], ids["recent"]}
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"{path}: removed 0 line(s) of runs finished before ")
    assert again.stdout.endswith(f" (older than 90d); kept {len(before) - len(gone)}\n")


def test_the_retention_in_ops_yaml_applies_only_when_pruning(
    tmp_path: Path, runner: CliRunner
) -> None:
    ids = history(tmp_path, recent=time.time())
    config = tmp_path / "ops.yaml"
    config.write_text("runbook:\n  audit_retention: 30d\n")
    state = tmp_path / "state"
    path = state / "audit.jsonl"
    before = path.read_text().splitlines()
    late = tmp_path / "late.md"
    late.write_text('---\ntitle: Late\nowner: team\n---\n```sh {"name":"one"}\ntrue\n```\n')
    env = {"OPS_CONFIG": str(config)}
    run = runner.invoke(
        main, ["runbook", "run", str(late), "--state-dir", str(state), "--json"], env=env
    )
    assert run.exit_code == 0, run.output
    lines = path.read_text().splitlines()
    assert lines[: len(before)] == before  # a run never prunes
    old = [line for line in lines if f'"run_id":"{ids["old"]}"' in line]
    result = runner.invoke(
        main, ["runbook", "audit", "--prune", "--state-dir", str(state), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: removed {len(old)} line(s) of runs finished before ")
    assert result.stdout.endswith(
        f" (older than 30d ({config}: runbook.audit_retention)); kept {len(lines) - len(old)}\n"
    )
    assert ids["old"] not in run_ids(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "90d"], "Error: --older-than is for --prune: give both"),
        (
            ["--prune", "20200101T000000Z-abcdef"],
            "Error: --prune works on the whole trail: leave out 20200101T000000Z-abcdef",
        ),
        (
            ["--prune", "--older-than", "soon"],
            "Error: Invalid value for --older-than: not a duration: 'soon' (use e.g. '30s', "
            "'5m', '1h30m')",
        ),
        (
            ["--prune", "--older-than", "0d"],
            "Error: Invalid value for --older-than: give a duration longer than 0",
        ),
        (
            ["--prune"],
            "Error: --prune needs --older-than DURATION (e.g. 90d) or runbook.audit_retention in "
            "ops.yaml",
        ),
    ],
    ids=["older-than alone", "with a run id", "not a duration", "zero", "no retention"],
)
def test_a_prune_asked_wrongly_says_why(
    tmp_path: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no ops.yaml here
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    result = runner.invoke(main, ["runbook", "audit", *args, "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message
