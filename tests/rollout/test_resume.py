"""A failed, waiting or aborted stage run is resumed by the next advance (or rollback), never
started again: real runbook runs through ``ops rollout``, with the state store on disk.

Before: ``advance_finished`` closed the advance whatever its status, so the 'Run ... again to
resume it' that ops printed started a new run that repeated every succeeded step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ops_toolkit.cli import main
from ops_toolkit.rollout.history import History


def ops(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def events(project: Path) -> list[dict[str, Any]]:
    return History(str(project / "rollouts" / "p3.history.jsonl")).read()


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def test_a_failed_advance_is_resumed_and_its_succeeded_steps_are_not_run_again(
    project: Path,
) -> None:
    first = ops("rollout", "advance", "p3", "--yes")
    assert first.exit_code == 1, first.output
    run_id = events(project)[0]["run_id"]
    assert first.stderr.splitlines()[-1] == (
        f"p3: stage 'pilot' not entered: run {run_id} failed. "
        "Run 'ops rollout advance p3' again to resume it."
    )
    failed_at = events(project)[1]["at"]
    status = ops("rollout", "status", "p3", "-o", "json")
    assert status.exit_code == 3, status.output
    document = json.loads(status.stdout)
    assert document["blocked_by"] == [
        f"the advance to stage 'pilot' (run {run_id}) ended failed at {iso(failed_at)}; "
        "'ops rollout advance p3' resumes it (steps that succeeded are not run again), "
        "'ops rollout rollback p3' undoes it"
    ]
    assert (document["pending"]["run_id"], document["pending_status"]) == (run_id, "failed")
    (project / "reload-ok").touch()
    second = ops("rollout", "advance", "p3", "--yes")
    assert second.exit_code == 0, second.output
    assert second.stderr.splitlines()[-1] == f"p3: entered stage 'pilot' (run {run_id})"
    assert (project / "access.conf").read_text() == "stage=pilot\n", "a succeeded step ran again"
    assert [(e["event"], e["run_id"], e.get("status")) for e in events(project)] == [
        ("advance_started", run_id, None),
        ("advance_finished", run_id, "failed"),
        ("advance_finished", run_id, "succeeded"),
    ]
    after = json.loads(ops("rollout", "status", "p3", "-o", "json").stdout)
    assert (after["stage"], after["pending"], after["ready"]) == ("pilot", None, True)


def test_a_waiting_advance_is_resumed_with_yes(project: Path) -> None:
    (project / "reload-ok").touch()
    first = ops("rollout", "advance", "p3", "--non-interactive")
    assert first.exit_code == 1, first.output
    run_id = events(project)[0]["run_id"]
    waiting_at = events(project)[1]["at"]
    status = ops("rollout", "status", "p3")
    assert status.exit_code == 3
    assert (
        f"the advance to stage 'pilot' (run {run_id}) waits for a person since "
        f"{iso(waiting_at)} (a confirm or manual step); 'ops rollout advance p3' resumes it"
        in " ".join(status.stdout.split())
    )
    second = ops("rollout", "advance", "p3", "--non-interactive", "--yes")
    assert second.exit_code == 0, second.output
    assert (project / "access.conf").read_text() == "stage=pilot\n"
    assert (project / "announced.txt").read_text() == "announced pilot\n"
    assert {e["run_id"] for e in events(project)} == {run_id}


def test_a_dry_run_does_not_resume_the_failed_advance(project: Path) -> None:
    ops("rollout", "advance", "p3", "--yes")
    (project / "reload-ok").touch()
    dry = ops("rollout", "advance", "p3", "--dry-run", "-o", "json")
    assert dry.exit_code == 3, dry.output
    assert json.loads(dry.stdout)["pending_status"] == "failed"
    assert len(events(project)) == 2 and not (project / "announced.txt").exists()


def test_a_rollback_after_a_failed_advance_undoes_the_stage_it_was_entering(
    project: Path,
) -> None:
    (project / "reload-ok").touch()
    assert ops("rollout", "advance", "p3", "--yes").exit_code == 0
    (project / "reload-ok").unlink()
    assert ops("rollout", "advance", "p3", "--yes").exit_code == 1  # department fails
    (project / "reload-ok").touch()
    back = ops("rollout", "rollback", "p3", "--yes")
    assert back.exit_code == 0, back.output
    kinds = [(e["event"], e["stage"], e.get("status")) for e in events(project)]
    assert kinds[3:] == [
        ("advance_finished", "department", "failed"),
        ("advance_finished", "department", "abandoned"),
        ("rollback_started", "department", None),
        ("rollback_finished", "department", "succeeded"),
    ]
    assert (project / "access.conf").read_text() == "stage=pilot\nstage=department\nstage=pilot\n"
    status = json.loads(ops("rollout", "status", "p3", "-o", "json").stdout)
    assert (status["stage"], status["pending"], status["next_stage"]) == (
        "pilot",
        None,
        "department",
    )


def test_a_failed_rollback_is_resumed_not_started_again(project: Path) -> None:
    (project / "reload-ok").touch()
    assert ops("rollout", "advance", "p3", "--yes").exit_code == 0
    (project / "reload-ok").unlink()
    failed = ops("rollout", "rollback", "p3", "--yes")
    assert failed.exit_code == 1, failed.output
    run_id = events(project)[-1]["run_id"]
    advance = ops("rollout", "advance", "p3", "--yes")
    assert advance.exit_code == 1
    assert advance.output.splitlines()[-1].startswith(
        f"Error: rollouts/p3.history.jsonl: the rollback of stage 'pilot' (run {run_id}) "
        "ended failed at "
    )
    assert advance.output.splitlines()[-1].endswith(
        "; 'ops rollout rollback p3' resumes it (steps that succeeded are not run again)"
    )
    (project / "reload-ok").touch()
    again = ops("rollout", "rollback", "p3", "--yes")
    assert again.exit_code == 0, again.output
    assert (project / "access.conf").read_text() == "stage=pilot\nstage=closed\n"
    assert [e["run_id"] for e in events(project)][-3:] == [run_id] * 3
    assert json.loads(ops("rollout", "status", "p3", "-o", "json").stdout)["stage"] is None


def test_a_runbook_fixed_after_its_step_failed_is_resumed_with_allow_changed(
    project: Path,
) -> None:
    """The runbook's own error named --allow-changed, which 'ops rollout' did not take."""
    assert ops("rollout", "advance", "p3", "--yes").exit_code == 1
    run_id = events(project)[0]["run_id"]
    runbook = project / "runbooks" / "open.md"
    runbook.write_text(runbook.read_text().replace("test -e reload-ok", "true"))
    refused = ops("rollout", "advance", "p3", "--yes")
    assert (refused.exit_code, refused.output.splitlines()[-1]) == (
        1,
        f"Error: runbooks/open.md: the runbook changed since run {run_id} started; review the "
        "change, then resume with --allow-changed",
    )
    resumed = ops("rollout", "advance", "p3", "--yes", "--allow-changed")
    assert resumed.exit_code == 0, resumed.output
    assert (project / "access.conf").read_text() == "stage=pilot\n"
    assert {e["run_id"] for e in events(project)} == {run_id}


def test_status_at_the_last_stage_names_its_failed_rollback(project: Path) -> None:
    (project / "reload-ok").touch()
    for _ in range(2):
        assert ops("rollout", "advance", "p3", "--yes").exit_code == 0
    (project / "reload-ok").unlink()
    assert ops("rollout", "rollback", "p3", "--yes").exit_code == 1
    run_id, failed_at = events(project)[-1]["run_id"], events(project)[-1]["at"]
    status = ops("rollout", "status", "p3")
    assert status.exit_code == 3
    assert " ".join(status.stdout.split()).endswith(
        "At the last stage: nothing left to advance. Unfinished: the rollback of stage "
        f"'department' (run {run_id}) ended failed at {iso(failed_at)}; 'ops rollout rollback "
        "p3' resumes it (steps that succeeded are not run again)"
    )
