"""Milestone and rollback messages of a rollout (pure: return Slack message dicts), built
from the same blocks, escaping and link checks as every other message ops posts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ops_toolkit.links import runbook_link
from ops_toolkit.notify.message import context, escape, link, section, truncate, when_text
from ops_toolkit.rollout.checks import CheckResult
from ops_toolkit.rollout.plan import RolloutPlan, Stage

HEADER_LIMIT = 150  # Slack's limit for a header block's text


def _message(title: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, HEADER_LIMIT)},
    }
    return {"text": escape(title), "blocks": [header, *blocks]}


def _byline(run: str, user: str, at: float) -> dict[str, Any]:
    return context(f"{run} · by {escape(user)} · {when_text(at)}")


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
    number = plan.index(stage.name) + 1
    title = f"{plan.name}: stage {number}/{len(plan.stages)} '{stage.name}' reached"
    blocks = [section(escape(stage.description))] if stage.description else []
    rows = [
        f"{'✅' if r.passed else '❌'} *{escape(r.name)}*: {escape(r.detail)}" for r in evidence
    ] or ["No checks gate this stage."]
    blocks.append(section("*Evidence*\n" + "\n".join(rows)))
    run = f"run `{escape(run_id)}`" if run_id else "no runbook"
    if runbook_path:
        url = runbook_link(runbook_path, runbook_base_url)
        shown = url.startswith(("http://", "https://"))
        run += f" of {link(url, runbook_path) if shown else escape(runbook_path)}"
    blocks.append(_byline(run, user, at))
    return _message(title, blocks)


def rolled_back(
    plan: RolloutPlan, stage: Stage, *, run_id: str, at: float, user: str
) -> dict[str, Any]:
    """A rollback is a milestone too: the channel hears that the plan went back a stage."""
    position = plan.index(stage.name)
    back_to = plan.stages[position - 1].name if position > 0 else "not started"
    title = f"{plan.name}: stage '{stage.name}' rolled back to '{back_to}'"
    return _message(title, [_byline(f"run `{escape(run_id)}`", user, at)])
