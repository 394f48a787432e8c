"""The milestone message posted when a stage is reached (pure: returns a Slack message dict)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ops_toolkit.rollout.checks import CheckResult
from ops_toolkit.rollout.plan import RolloutPlan, Stage


def runbook_link(path: str, base_url: str | None) -> str:
    """``runbooks/x.md`` under ``base_url`` when one is set, else the path as written."""
    if path.startswith(("http://", "https://")) or not base_url:
        return path
    return f"{base_url.rstrip('/')}/{path.lstrip('./')}"


def milestone(
    plan: RolloutPlan,
    stage: Stage,
    evidence: Sequence[CheckResult],
    *,
    run_id: str | None,
    runbook_path: str | None,
    runbook_base_url: str | None,
    at: float,
    user: str,
) -> dict[str, Any]:
    from ops_toolkit.notify.message import escape, truncate

    number = plan.index(stage.name) + 1
    title = f"{plan.name}: stage {number}/{len(plan.stages)} '{stage.name}' reached"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title, 150)}},
    ]
    if stage.description:
        blocks.append(_section(escape(stage.description)))
    rows = [
        f"{'✅' if r.passed else '❌'} *{escape(r.name)}*: {escape(r.detail)}" for r in evidence
    ] or ["No checks gate this stage."]
    blocks.append(_section("*Evidence*\n" + "\n".join(rows)))
    run = f"run `{escape(run_id)}`" if run_id else "no runbook"
    if runbook_path:
        link = runbook_link(runbook_path, runbook_base_url)
        shown = escape(runbook_path)
        run += (
            f" of <{link}|{shown}>" if link.startswith(("http://", "https://")) else f" of {shown}"
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": truncate(f"{run} · by {escape(user)} · {when}", 3000)}
            ],
        }
    )
    return {"text": escape(title), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    from ops_toolkit.notify.message import truncate

    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def rolled_back(
    plan: RolloutPlan, stage: Stage, *, run_id: str, at: float, user: str
) -> dict[str, Any]:
    """A rollback is a milestone too: the channel hears that the plan went back a stage."""
    from ops_toolkit.notify.message import escape

    position = plan.index(stage.name)
    back_to = plan.stages[position - 1].name if position > 0 else "not started"
    title = f"{plan.name}: stage '{stage.name}' rolled back to '{back_to}'"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    return {
        "text": escape(title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"run `{escape(run_id)}` · by {escape(user)} · {when}",
                    }
                ],
            },
        ],
    }
