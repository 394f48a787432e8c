"""Rollout messages: built from the shared blocks, so links are checked like every other."""

from __future__ import annotations

import json

from ops_toolkit.rollout.message import milestone, rolled_back
from ops_toolkit.rollout.plan import parse_plan

PLAN = parse_plan(
    "version: ops/v1\nkind: Rollout\nservice: search\nstages:\n"
    "  - {name: pilot, description: 'Fifty <users>'}\n  - {name: department}\n",
    "rollouts/search.yaml",
)


def test_a_base_url_that_would_break_out_of_the_link_is_shown_as_code() -> None:
    message = milestone(
        PLAN,
        PLAN.stages[0],
        [],
        run_id="r1",
        runbook_path="runbooks/open.md",
        runbook_base_url="https://git.example.com/x|<!channel>",
        at=0,
        user="ana",
    )
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "`https://git.example.com/x|&lt;!channel&gt;/runbooks/open.md`" in text
    assert "Fifty &lt;users&gt;" in text


def test_a_rollback_names_the_stage_it_went_back_to() -> None:
    message = rolled_back(PLAN, PLAN.stages[1], run_id="r2", at=0, user="ana")
    assert message["text"] == "search: stage 'department' rolled back to 'pilot'"
    assert message["blocks"][1]["elements"][0]["text"] == (
        "run `r2` · by ana · 1970-01-01 00:00 UTC"
    )
