"""Papercuts of ``ops rollout``: what a newcomer read that was not so."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.rollout.history import History


def test_the_milestone_of_a_stage_without_a_runbook_says_no_runbook(project: Path) -> None:
    """Before: it named a run id that 'ops runbook runs' did not know (none ran)."""
    (project / "rollouts" / "p3.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nservice: search\nchannel: '#search-rollout'\n"
        "stages:\n  - {name: pilot, description: Fifty pilot users.}\n"
    )
    (project / "ops.yaml").write_text(
        f"serve: {{state: {project / 'ops.db'}, messages: {project / 'messages.jsonl'}}}\n"
    )
    result = CliRunner().invoke(main, ["rollout", "advance", "p3"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "p3: entered stage 'pilot' (no runbook)"
    (posted,) = [json.loads(line) for line in (project / "messages.jsonl").open()]
    byline = posted["message"]["blocks"][-1]["elements"][0]["text"]
    assert byline.startswith("no runbook · by ")
    run_id = json.loads((project / "rollouts" / "p3.history.jsonl").read_text().splitlines()[0])
    assert run_id["run_id"] not in json.dumps(posted)
    report = CliRunner().invoke(main, ["rollout", "report", "p3", "-o", "markdown"])
    (row,) = [line for line in report.stdout.splitlines() if line.startswith("| 1 | pilot |")]
    assert row.endswith("| no runbook |") and run_id["run_id"] not in report.stdout


T1 = 1796000000.0  # 2026-11-30T00:53:20Z: pilot entered
T2 = T1 + 7 * 86400  # department entered


def test_status_at_a_past_time_shows_the_stage_of_that_time(project: Path) -> None:
    """Before: '--at' a time before the stage was entered showed the current stage."""
    history = History(str(project / "rollouts" / "p3.history.jsonl"))
    for stage, at in (("pilot", T1), ("department", T2)):
        for kind in ("advance_started", "advance_finished"):
            history.append(
                {"event": kind, "stage": stage, "at": at, "run_id": stage, "status": "succeeded"}
            )

    def status(*at: str) -> dict[str, object]:
        result = CliRunner().invoke(main, ["rollout", "status", "p3", *at, "-o", "json"])
        assert result.exit_code == 0, result.output
        document: dict[str, object] = json.loads(result.stdout)
        return document

    assert [status("--at", str(T1 - 1))[k] for k in ("stage", "next_stage")] == [None, "pilot"]
    between = status("--at", "2026-12-03T00:00:00Z")
    assert (between["stage"], between["since"], between["next_stage"]) == (
        "pilot",
        "2026-11-30T00:53:20Z",
        "department",
    )
    assert status("--at", str(T2))["stage"] == "department"
    assert (status()["stage"], status()["next_stage"]) == ("department", None)


def test_the_report_is_a_table_by_default_as_every_command_prints(project: Path) -> None:
    """Before: Markdown by default, where the README (and every other command) says table."""
    history = History(str(project / "rollouts" / "p3.history.jsonl"))
    for kind in ("advance_started", "advance_finished"):
        history.append(
            {
                "event": kind,
                "stage": "pilot",
                "at": T1,
                "run_id": "r1",
                "status": "succeeded",
                "user": "ana",
                "checks": [{"name": "load", "passed": True, "detail": "0.01 holds (< 0.05)"}],
            }
        )
    table = CliRunner().invoke(main, ["rollout", "report", "p3"])
    assert table.exit_code == 0, table.output
    assert [" ".join(line.split()) for line in table.stdout.splitlines()] == [
        "p3 (search): current stage pilot",
        "# ┃ stage ┃ entered ┃ by ┃ run",
        "━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━╇━━━━",
        "1 │ pilot │ 2026-11-30 00:53 UTC │ ana │ r1",
        "2 │ department │ — │ — │ —",
        "Evidence for pilot:",
        "check ┃ verdict ┃ value",
        "━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━",
        "load │ holds │ 0.01 holds (< 0.05)",
    ]
    markdown = CliRunner().invoke(main, ["rollout", "report", "p3", "-o", "markdown"])
    assert markdown.stdout.startswith("# Rollout: p3 (search)\n")
