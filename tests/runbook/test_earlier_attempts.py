"""A resume keeps the failed attempt before it: in the state, ``runs``, ``-o json`` and
``--report``; the audit logs it as ``run_resumed``.

Before, a step that failed (printing ``not fixed yet``, exit 3) and then succeeded on resume
kept only the success: the output the person resumed after reading was gone. The fixture
``state-of-main-435947e`` holds run states written by the version before this one (main
at 435947e): a failed run, and a run whose ops was SIGKILLed mid-step (snapshot and
journal); this version loads and resumes both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.execute import RunOptions, resume_run, run_document, start_run
from ops_toolkit.runbook.state import RunRecord, StateStore, StepRecord
from tests.runbook.test_execute import make_runbook, step, world

FIXTURE = Path(__file__).parent / "fixtures" / "state-of-main-435947e"
FAILED_RUN = "20261130T105708Z-2acc5e"  # fix-search.md: check ok, fix failed (exit 3)
KILLED_RUN = "20261130T105716Z-0fcb42"  # slow-fix.md: ops SIGKILLed while fix ran


@pytest.fixture
def old_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture as the working directory (the records name their runbooks by
    relative paths, as they were run)."""
    shutil.copytree(FIXTURE, tmp_path / "old")
    monkeypatch.chdir(tmp_path / "old")
    return tmp_path / "old"


def ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops_toolkit", "runbook", *args, "--state-dir", "state"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_a_run_saved_by_the_previous_version_resumes_keeping_its_failed_attempt(
    old_state: Path,
) -> None:
    (old_state / "fixed").touch()
    resumed = ops("resume", FAILED_RUN, "--json", "--report", "report.md")
    assert resumed.returncode == 0, resumed.stderr
    steps = {s["name"]: s for s in json.loads(resumed.stdout)["steps"]}
    assert (steps["fix"]["status"], steps["fix"]["output"]) == ("succeeded", "fixed\n")
    assert steps["fix"]["earlier"] == [
        {
            "status": "failed",
            "exit_code": 3,
            "duration_s": 0.019,
            "output": "not fixed yet\n",
            "attempts": 1,
            "message": "exit code 3",
            "started_at": "2026-11-30T10:57:08Z",
            "finished_at": "2026-11-30T10:57:08Z",
        }
    ]
    assert steps["check"]["earlier"] == [] and steps["verify"]["earlier"] == []

    saved = json.loads((old_state / "state" / "runs" / f"{FAILED_RUN}.json").read_text())
    assert saved["steps"]["fix"]["earlier"][0]["output"] == "not fixed yet\n"
    assert "earlier" not in saved["steps"]["check"]  # as the previous version wrote it

    shown = ops("runs", FAILED_RUN)
    assert (
        "[2026-11-30T10:57:08Z] fix (earlier attempt 1): started\n"
        "  not fixed yet\n"
        "[2026-11-30T10:57:08Z] fix (earlier attempt 1): failed, exit 3, 0.02s, exit code 3\n"
        "\n"
    ) in shown.stdout
    as_json = json.loads(ops("runs", FAILED_RUN, "-o", "json").stdout)
    assert as_json["steps"][1]["earlier"] == steps["fix"]["earlier"]

    report = (old_state / "report.md").read_text()
    assert "| fix (earlier attempt 1) | ❌ failed | 3 | 0.02s | exit code 3 |\n" in report
    assert "| fix | ✅ succeeded | 0 |" in report
    assert "### fix (earlier attempt 1)\n\n```text\nnot fixed yet\n```\n" in report

    audit = [json.loads(line) for line in (old_state / "state" / "audit.jsonl").open()]
    assert [(e["event"], e.get("step")) for e in audit if e["run_id"] == FAILED_RUN] == [
        ("run_started", None),
        ("step_finished", "check"),
        ("step_finished", "fix"),
        ("run_finished", None),
        ("run_resumed", None),
        ("step_finished", "fix"),
        ("step_finished", "verify"),
        ("run_finished", None),
    ]
    assert audit[-4]["resumed"] == 1


def test_a_run_killed_under_the_previous_version_keeps_what_its_unknown_step_did(
    old_state: Path,
) -> None:
    before = json.loads(ops("runs", KILLED_RUN, "-o", "json").stdout)
    assert [(s["name"], s["status"]) for s in before["steps"]] == [
        ("check", "succeeded"),
        ("fix", "unknown"),
    ]
    resumed = ops("resume", KILLED_RUN, "--json", "--skip-unknown")
    assert resumed.returncode == 0, resumed.stderr
    fix = json.loads(resumed.stdout)["steps"][1]
    assert (fix["status"], fix["message"]) == (
        "skipped",
        "outcome unknown: skipped (--skip-unknown)",
    )
    assert fix["earlier"] == [
        {
            "status": "unknown",
            "exit_code": None,
            "duration_s": None,
            "output": "",
            "attempts": 1,
            "message": "may have run: its outcome was not recorded",
            "started_at": "2026-11-30T10:57:16Z",
            "finished_at": None,
        }
    ]


def test_a_resume_that_fails_again_keeps_every_attempt_in_order(tmp_path: Path) -> None:
    flag = tmp_path / "tries"
    code = f'touch {flag}; echo "try $(wc -c < {flag})"; printf x >> {flag}; exit 3'
    runbook = make_runbook(tmp_path, step("fix", code))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    for _ in range(2):
        record = resume_run(record, runbook, RunOptions(), world(tmp_path))
    fix = run_document(record)["steps"][0]
    assert [e["output"] for e in fix["earlier"]] == ["try 0\n", "try 1\n"]
    assert (fix["status"], fix["output"], fix["exit_code"]) == ("failed", "try 2\n", 3)
    assert (
        record.steps["fix"].earlier
        == StateStore(str(tmp_path / "state")).load(record.run_id).steps["fix"].earlier
    )


def test_a_handler_run_twice_keeps_its_first_outcome(tmp_path: Path) -> None:
    body = (
        step("one", "exit 1", on_failure="fix")
        + step("two", "exit 2", on_failure="fix")
        + step("fix", 'echo "fixing after $OPS_STEP"')
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(keep_going=True), world(tmp_path))
    fix = record.steps["fix"]
    assert (fix.output, [e["output"] for e in fix.earlier]) == (
        "fixing after fix\n",
        ["fixing after fix\n"],
    )
    assert [e["status"] for e in fix.earlier] == ["succeeded"]


def test_an_earlier_attempt_is_checked_like_the_rest_of_the_state(tmp_path: Path) -> None:
    record = RunRecord("r1", "rb.md", "0" * 64, "u", "h", 0.0, {}, ["a"])
    record.steps["a"] = StepRecord("a", "failed", earlier=[{"status": "bogus"}])
    store = StateStore(str(tmp_path))
    store.save(record)
    with pytest.raises(RunbookError) as raised:
        store.load("r1")
    assert str(raised.value) == (
        f"{tmp_path}/runs/r1.json: run state is damaged: steps.a.earlier[0].status: expected "
        "one of succeeded, failed, skipped, timed_out, needs_confirmation, pending_manual, "
        "starting, running, pending, got 'bogus'"
    )
