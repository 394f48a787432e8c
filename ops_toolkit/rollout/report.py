"""The rollout's history for stakeholders: stages, dates, evidence, and the SLO budgets now.

Markdown for a wiki or an incident doc; HTML as one self-contained page with the budget
burn-down charts (inline SVG, the same charts as ``ops slo report --format html``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops_toolkit.rollout.plan import RolloutPlan


@dataclass(frozen=True)
class StageEntry:
    """One stage as the history tells it: when it was entered (or left), by whom, on what."""

    stage: str
    description: str
    entered_at: float | None = None
    by: str | None = None
    run_id: str | None = None
    evidence: tuple[Mapping[str, Any], ...] = ()
    rollbacks: tuple[Mapping[str, Any], ...] = ()
    attempts: int = 0
    runbook: bool = True  # False: the stage has no runbook, so its id names no runbook run

    @property
    def run(self) -> str:
        """The run column: the runbook run that entered the stage, 'no runbook', or a dash."""
        if self.entered_at is not None and not self.runbook:
            return "no runbook"
        return self.run_id or "—"


@dataclass(frozen=True)
class RolloutHistory:
    plan: RolloutPlan
    current: str | None
    stages: tuple[StageEntry, ...]
    events: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


def summarise(plan: RolloutPlan, events: Sequence[Mapping[str, Any]]) -> RolloutHistory:
    """Per stage: the latest successful entry with its evidence, and its rollbacks."""
    from ops_toolkit.rollout.history import progress

    started: dict[str, Mapping[str, Any]] = {}
    entries: dict[str, StageEntry] = {
        s.name: StageEntry(s.name, s.description) for s in plan.stages
    }
    for event in events:
        name = str(event["stage"])
        entry = entries.get(name)
        if entry is None:
            continue
        kind = event["event"]
        if kind == "advance_started":
            started[name] = event
            entries[name] = _replace(entry, attempts=entry.attempts + 1)
        elif kind == "advance_finished" and event.get("status") == "succeeded":
            begun = started.get(name, {})
            entries[name] = _replace(
                entry,
                entered_at=float(event["at"]),
                by=str(begun.get("user", event.get("user", ""))),
                run_id=str(event.get("run_id")),
                runbook=begun.get("runbook", "") is not None,  # older events: assume one ran
                evidence=tuple(begun.get("checks", ())),
            )
        elif kind == "rollback_finished":
            entries[name] = _replace(entry, rollbacks=(*entry.rollbacks, event))
    state = progress(events, [s.name for s in plan.stages])
    return RolloutHistory(
        plan, state.stage, tuple(entries[s.name] for s in plan.stages), tuple(events)
    )


def _replace(entry: StageEntry, **changes: Any) -> StageEntry:
    from dataclasses import replace

    return replace(entry, **changes)


def _when(timestamp: float | None) -> str:
    from ops_toolkit.notify.message import when_text

    return when_text(timestamp) if timestamp else "—"


def source_text(status: Any, sources: Mapping[str, Any] | None) -> str:
    """Where a budget came from, and why (a ``SourceChoice``), as ``--explain`` says it."""
    choice = (sources or {}).get(status.slo.key)
    return f"{status.source}: {choice.reason}" if choice is not None else str(status.source)


@dataclass(frozen=True)
class Unreported:
    """The SLOs whose budget could not be read, and why: each distinct cause once (with
    Prometheus down every SLO fails on the same 'cannot reach Prometheus at ...')."""

    causes: tuple[str, ...]
    slos: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"Could not read the SLO budgets: {'; '.join(self.causes)}"


def reported(budgets: Sequence[Any]) -> list[Any]:
    """The budgets that were read (the others are ``unreported``)."""
    return [status for status in budgets if status.status != "error"]


def unreported(budgets: Sequence[Any]) -> Unreported | None:
    """None when every budget was read."""
    from ops_toolkit.rollout.advance import distinct_causes

    failed = [status for status in budgets if status.status == "error"]
    if not failed:
        return None
    causes = distinct_causes([_cause(status.slo.key, status.error) for status in failed])
    return Unreported(causes, tuple(status.slo.key for status in failed))


def _cause(key: str, error: str | None) -> str:
    """Why one SLO's budget failed, without what is the SLO's own (its key, its query): an
    evaluation's error reads "<key>: query '<promql>' failed: <cause>"."""
    text = error or "query failed"
    text = text.removeprefix(f"{key}: ")
    if text.startswith("query "):
        _, said, cause = text.partition("' failed: ")
        return cause if said else text
    return text


def markdown(
    history: RolloutHistory, budgets: Sequence[Any] = (), sources: Mapping[str, Any] | None = None
) -> str:
    """``sources``: SLO key -> ``SourceChoice``, the reason each budget's source was chosen."""
    plan = history.plan
    lines = [f"# Rollout: {plan.name} ({plan.service})", ""]
    if plan.description:
        lines += [plan.description, ""]
    current = history.current or "not started"
    lines += [
        f"Current stage: **{current}**",
        "",
        "| # | stage | entered | by | run |",
        "|---|---|---|---|---|",
    ]
    for number, entry in enumerate(history.stages, 1):
        lines.append(
            f"| {number} | {entry.stage} | {_when(entry.entered_at)} | {entry.by or '—'} "
            f"| {entry.run} |"
        )
    for number, entry in enumerate(history.stages, 1):
        lines += ["", f"## {number}. {entry.stage}", ""]
        if entry.description:
            lines += [entry.description, ""]
        if entry.entered_at is None:
            lines.append("Not entered yet.")
        elif entry.evidence:
            lines += ["| check | value | verdict |", "|---|---|---|"]
            lines += [
                f"| {e.get('name')} | {_cell(e.get('detail'))} | {'holds' if e.get('passed') else 'failed'} |"
                for e in entry.evidence
            ]
        else:
            lines.append("Entered without checks.")
        for rollback in entry.rollbacks:
            lines.append(
                f"\nRolled back {_when(float(rollback['at']))} by {rollback.get('user')}: "
                f"{rollback.get('status')} (run {rollback.get('run_id')})"
            )
    if budgets:
        from ops_toolkit.formatting import percent

        lines += ["", "## SLO budgets now"]
        if reported(budgets):
            lines += ["", "| SLO | budget left | status | source |", "|---|---|---|---|"]
            lines += [
                f"| {s.slo.key} | {percent(s.budget_remaining)} | {s.status} "
                f"| {_cell(source_text(s, sources))} |"
                for s in reported(budgets)
            ]
        missing = unreported(budgets)
        if missing is not None:
            lines += ["", _escape_markdown(missing.text), "", "Not reported:", ""]
            lines += [f"- {key}" for key in missing.slos]
    return "\n".join(lines) + "\n"


def _escape_markdown(text: str) -> str:
    """An error's text as plain Markdown: its '*', '_' or '<' are not markup."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|#" else c for c in text)


def _cell(value: object) -> str:
    return str(value or "").replace("|", "\\|").replace("\n", " ")


def render_html(
    history: RolloutHistory,
    budgets: Sequence[Any] = (),
    charts: Sequence[Any] = (),
    sources: Mapping[str, Any] | None = None,
) -> str:
    from ops_toolkit.formatting import percent
    from ops_toolkit.slo.html import STYLE, svg_burndown

    plan = history.plan
    esc = html.escape
    rows = "".join(
        f"<tr><td>{n}</td><td>{esc(e.stage)}</td><td>{esc(e.description)}</td>"
        f"<td>{_when(e.entered_at)}</td><td>{esc(e.by or '—')}</td><td>{esc(e.run)}</td></tr>"
        for n, e in enumerate(history.stages, 1)
    )
    sections = []
    for entry in history.stages:
        if not entry.evidence:
            continue
        items = "".join(
            f"<tr><td>{esc(str(e.get('name')))}</td><td>{esc(str(e.get('detail')))}</td>"
            f"<td>{'holds' if e.get('passed') else 'failed'}</td></tr>"
            for e in entry.evidence
        )
        sections.append(
            f"<h3>Evidence for {esc(entry.stage)} ({_when(entry.entered_at)})</h3>"
            f"<table><thead><tr><th>check</th><th>value</th><th>verdict</th></tr></thead>"
            f"<tbody>{items}</tbody></table>"
        )
    budget_rows = "".join(
        f"<tr><td>{esc(s.slo.key)}</td><td>{percent(s.budget_remaining)}</td><td>{esc(s.status)}</td>"
        f"<td>{esc(source_text(s, sources))}</td></tr>"
        for s in reported(budgets)
    )
    missing = unreported(budgets)
    not_reported = (
        f"<p>{esc(missing.text)}</p><p>Not reported:</p><ul>"
        + "".join(f"<li>{esc(key)}</li>" for key in missing.slos)
        + "</ul>"
        if missing is not None
        else ""
    )
    figures = "".join(
        f"<figure>{svg_burndown(c)}<figcaption>{esc(c.key)}: {esc(c.status)}</figcaption></figure>"
        for c in charts
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Rollout {esc(plan.name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Rollout: {esc(plan.name)} ({esc(plan.service)})</h1><p>{esc(plan.description)}</p>"
        f"<p>Current stage: <b>{esc(history.current or 'not started')}</b></p>"
        "<table><thead><tr><th>#</th><th>stage</th><th>who and what</th><th>entered</th>"
        f"<th>by</th><th>run</th></tr></thead><tbody>{rows}</tbody></table>"
        + "".join(sections)
        + ("<h2>SLO budgets now</h2>" if budgets else "")
        + (
            "<table><thead><tr><th>SLO</th><th>budget left</th>"
            f"<th>status</th><th>source</th></tr></thead><tbody>{budget_rows}</tbody></table>"
            if budget_rows
            else ""
        )
        + not_reported
        + (f"<h2>Budget burn-down</h2><div class=charts>{figures}</div>" if figures else "")
        + "</body></html>\n"
    )
