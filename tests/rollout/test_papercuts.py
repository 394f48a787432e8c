"""Papercuts of ``ops rollout``: what a newcomer read that was not so."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main


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
