"""SLO statuses as people and scripts read them: JSON objects, a rich table, Markdown."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.durations import format_duration
from ops_toolkit.formatting import bar, burn, percent
from ops_toolkit.slo.budget import STATUSES
from ops_toolkit.slo.evaluate import RECORDED, CorrectedSpan, PlannedQuery, SLOStatus, SourceChoice

TABLE_BURN_WINDOWS = (3600, 6 * 3600, 86400, 3 * 86400)
STATUS_STYLE = {
    "exhausted": "bold red",
    "critical": "red",
    "warning": "yellow",
    "error": "magenta",
    "no_data": "dim",
    "ok": "green",
}


def sort_worst_first(statuses: Sequence[SLOStatus]) -> list[SLOStatus]:
    def key(status: SLOStatus) -> tuple[int, float, str]:
        remaining = status.budget_remaining
        return (
            STATUSES.index(status.status),
            remaining if remaining is not None else 2.0,
            status.slo.key,
        )

    return sorted(statuses, key=key)


def rfc3339(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _number(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def status_document(status: SLOStatus) -> dict[str, Any]:
    """The JSON object of one SLO: exactly the keys scripts rely on."""
    period = status.period
    rates = status.burn_rates()
    return {
        "service": status.slo.service,
        "slo": status.slo.name,
        "objective": status.slo.objective,
        "window": status.slo.window.describe(),
        "at": rfc3339(status.at),
        "sli": _number(status.sli, 8),
        "good": _number(period.good, 3) if period else None,
        "bad": _number(period.bad, 3) if period else None,
        "total": _number(period.total, 3) if period else None,
        "budget_remaining": _number(status.budget_remaining),
        "bad_events_left": _number(status.bad_events_left, 3),
        "burn_rates": {format_duration(w): _number(r) for w, r in sorted(rates.items())},
        "status": status.status,
        "runbook": status.slo.runbook,
        "excluded_events": _number(status.excluded.total, 3) if status.excluded else None,
        "excluded_bad": _number(status.excluded.bad, 3) if status.excluded else None,
        "corrections": [
            {"start": _rfc3339(span.start), "end": _rfc3339(span.end), "reason": span.reason}
            for span in status.corrected
        ],
        "source": status.source,
        "source_note": status.source_note,
    }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_line(status: SLOStatus) -> str:
    """Why an SLO asked for from recorded series (``--use-rules``) was queried directly."""
    return f"from direct queries: {status.source_note}"


def corrected_note(status: SLOStatus) -> str | None:
    """``12,345 events corrected out (2 windows)``, or None when no correction touched the
    period; the budget, burn rates and status above it are already corrected."""
    if not status.corrected:
        return None
    events = round(status.excluded.total) if status.excluded else 0
    count = len(status.corrected)
    return f"{events:,} events corrected out ({count} window{'s' if count != 1 else ''})"


def _span_text(span: CorrectedSpan) -> str:
    start = span.start.astimezone(UTC)
    end = span.end.astimezone(UTC)
    until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    return f"{start.strftime('%Y-%m-%d %H:%M')} to {until} UTC ({span.reason})"


TABLE_COLUMNS = (
    "SLO",
    "objective",
    "SLI",
    "budget left",
    "burn 1h",
    "6h",
    "1d",
    "3d",
    "status",
    "runbook",
)
"""Every column of the terminal table, in display order (``-o wide`` shows them all)."""

TABLE_DROP_ORDER = ("runbook", "3d", "objective", "1d", "6h", "SLI")
"""Columns given up first when the terminal is narrow: SLO, budget, burn 1h and status stay."""


def table(statuses: Sequence[SLOStatus], columns: Sequence[str] = TABLE_COLUMNS) -> Any:
    """The statuses worst first, showing ``columns`` (a subset of ``TABLE_COLUMNS``).

    Cells never wrap: a narrow terminal gets fewer columns (chosen by the CLI), not
    columns squeezed to an ellipsis.
    """
    from rich.table import Table
    from rich.text import Text

    result = Table(title="SLO error budgets", title_justify="left")
    left_aligned = ("SLO", "budget left", "status", "runbook")
    for column in columns:
        justify = "left" if column in left_aligned else "right"
        result.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for status in sort_worst_first(statuses):
        remaining = status.budget_remaining
        rates = status.burn_rates()
        style = STATUS_STYLE[status.status]
        left = Text(f"{bar(remaining)} {percent(remaining)}", style=style)
        projected = status.projected_remaining
        if projected is not None:
            left.append(f"\n→ {percent(projected)} at period end", style="dim")
        note = corrected_note(status)
        if note is not None:
            left.append(f"\n{note}", style="dim")
        if status.source_note is not None:
            left.append(f"\n{source_line(status)}", style="dim")
        cells: dict[str, Any] = {
            "SLO": Text(status.slo.key),
            "objective": f"{status.slo.objective:g}% / {status.slo.window.describe()}",
            "SLI": percent(status.sli, 3),
            "budget left": left,
            **{
                name: burn(rates.get(window))
                for name, window in zip(
                    ("burn 1h", "6h", "1d", "3d"), TABLE_BURN_WINDOWS, strict=True
                )
            },
            "status": Text(status.status, style=style),
            "runbook": Text(_runbook_name(status.slo.runbook)),
        }
        result.add_row(*(cells[column] for column in columns))
    return result


def _runbook_name(path: str | None) -> str:
    return (path or "").rsplit("/", 1)[-1].removesuffix(".md")


def markdown(statuses: Sequence[SLOStatus], runbook_base_url: str | None = None) -> str:
    """A Markdown table; runbooks link under ``runbook_base_url`` (``links.runbook_url``, as
    the HTML page and chat do), else show as text: a bare path is relative to nothing."""
    from ops_toolkit.links import runbook_url

    at = rfc3339(statuses[0].at) if statuses else ""
    lines = [
        f"## SLO error budgets at {at}",
        "",
        "| service | SLO | objective | SLI | budget left | burn 1h | 6h | 1d | 3d | status | runbook |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for status in sort_worst_first(statuses):
        rates = status.burn_rates()
        path = status.slo.runbook or ""
        url = runbook_url(path, runbook_base_url) if path else None
        runbook = f"[{path}]({url})" if url else path
        lines.append(
            f"| {status.slo.service} | {status.slo.name} | {status.slo.objective:g}% / "
            f"{status.slo.window.describe()} | {percent(status.sli, 3)} | "
            f"`{bar(status.budget_remaining)}` {percent(status.budget_remaining)} | "
            + " | ".join(burn(rates.get(w)) for w in TABLE_BURN_WINDOWS)
            + f" | {status.status} | {runbook} |"
        )
    corrected = [s for s in sort_worst_first(statuses) if s.corrected]
    if corrected:
        lines += ["", "Corrections (events that count neither good nor bad):", ""]
        for status in corrected:
            events = round(status.excluded.total) if status.excluded else 0
            spans = "; ".join(_span_text(span) for span in status.corrected)
            lines.append(f"- **{status.slo.key}**: {events:,} events corrected out: {spans}")
    queried = [s for s in sort_worst_first(statuses) if s.source_note is not None]
    if queried:
        lines += ["", "Asked from recorded series, answered from direct queries:", ""]
        lines += [f"- **{s.slo.key}**: {s.source_note}" for s in queried]
    errors = [s for s in statuses if s.error]
    if errors:
        lines += ["", *(f"- **{s.slo.key}**: {s.error}" for s in errors)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GateVerdict:
    """``go`` (exit 0), ``stop`` (exit 3), or ``error`` / ``cannot tell`` (no data: exit 1,
    as ``ops rollout`` says of a check without data), and every reason for it."""

    verdict: str
    reasons: tuple[str, ...]


def gate_verdict(status: SLOStatus, minimum: float, *, allow_burning: bool = False) -> GateVerdict:
    """Whether a rollout may go on: budget left at least ``minimum``, and not burning fast.

    A budget that still holds while a page-level burn runs (status ``critical``) is spent in
    hours: a rollout gate stops then too, unless ``allow_burning``. Each check that decided
    is a reason, so a blocked deploy says everything that blocks it at once.
    """
    remaining = status.budget_remaining
    name = status.slo.key
    if status.status == "error":
        return GateVerdict("error", (f"{name}: cannot tell: {status.error or 'query failed'}",))
    if remaining is None:
        window = status.slo.window.describe()
        return GateVerdict("cannot tell", (f"{name}: no data in the {window} window; cannot tell",))
    holds = remaining >= minimum
    word = "holds" if holds else "is below the gate"
    reasons = [f"{name}: budget remaining {percent(remaining)} {word} (minimum {percent(minimum)})"]
    burning = status.status == "critical"
    if burning:
        rates = status.burn_rates()
        how = f"burn rate {burn(rates.get(3600))} over 1h, {burn(rates.get(6 * 3600))} over 6h"
        if allow_burning:
            reasons.append(f"{name}: status critical ({how}); allowed by --allow-burning")
        else:
            reasons.append(
                f"{name}: status critical: the budget burns fast ({how}); the gate stops "
                "while it burns (--allow-burning to go on)"
            )
    else:
        reasons.append(f"{name}: status {status.status}")
    note = corrected_note(status)
    if note is not None:
        reasons.append(f"{name}: {note}; the budget above leaves them out")
    stop = not holds or (burning and not allow_burning)
    return GateVerdict("stop" if stop else "go", tuple(reasons))


def explain(
    plan: Sequence[PlannedQuery],
    choices: Mapping[str, SourceChoice],
    recorded: Sequence[str] = (),
    at: float | None = None,
) -> str:
    """The query plan as text: each distinct query, its range, and what it answers; then
    each SLO's source and why.

    ``recorded``: the recorded series read for the SLOs ``choices`` gives to the rules (one
    query per name for all of them).
    """
    asked = sum(len(query.serves) for query in plan)
    lines = [f"{len(plan)} queries ({asked} before sharing), all at one pinned time"]
    from_rules = sum(1 for choice in choices.values() if choice.source == RECORDED)
    if from_rules:
        lines.append(
            f"{len(recorded)} recorded-series queries ({', '.join(_short(n) for n in recorded)}) "
            f"serve {from_rules} rolling SLO(s)"
        )
    for query in plan:
        lines.append(f"[{query.range}] {query.query}")
        served: dict[str, list[str]] = {}
        for key, window, part in query.serves:
            label = "period" if window == 0 else format_duration(window)
            served.setdefault(key, []).append(f"{label} {part}")
        for key, uses in served.items():
            lines.append(f"    {key}: {', '.join(uses)}")
    moment = f" at {rfc3339(at)}" if at is not None else ""
    lines.append(f"Sources{moment} (rules: recorded series; queries: direct):")
    lines += [f"    {key}: {choice.source}: {choice.reason}" for key, choice in choices.items()]
    return "\n".join(lines) + "\n"


def _short(name: str) -> str:
    """``slo:error_ratio:1h`` -> ``1h``; ``slo:total_events:1h`` -> ``total 1h``."""
    kind, _, window = name.removeprefix("slo:").partition(":")
    return window if kind == "error_ratio" else f"total {window}"


def explain_document(
    plan: Sequence[PlannedQuery],
    choices: Mapping[str, SourceChoice],
    recorded: Sequence[str] = (),
    at: float | None = None,
) -> dict[str, Any]:
    """``--explain -o json``: the same as ``explain``, for scripts."""
    return {
        "at": rfc3339(at) if at is not None else None,
        "sources": [
            {"slo": key, "source": choice.source, "reason": choice.reason}
            for key, choice in choices.items()
        ],
        "recorded_queries": list(recorded),
        "queries": [
            {
                "query": query.query,
                "range": query.range,
                "serves": [
                    {
                        "slo": key,
                        "window": "period" if window == 0 else format_duration(window),
                        "part": part,
                    }
                    for key, window, part in query.serves
                ],
            }
            for query in plan
        ],
    }
