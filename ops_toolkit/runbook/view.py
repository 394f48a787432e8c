"""Runbooks as people read them in a terminal (rich renderables) and as scripts read them (dicts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ops_toolkit.runbook.kinds import kind_for, not_runnable
from ops_toolkit.runbook.model import Runbook, Step

_KIND_STYLE = {"sh": "green", "bash": "green", "promql": "magenta", "manual": "yellow"}
_LEXERS = {"sh": "bash", "bash": "bash", "promql": "text", "manual": "markdown"}


def runbook_summary(runbook: Runbook) -> dict[str, Any]:
    return {
        "name": runbook.name,
        "path": runbook.source,
        "title": runbook.title,
        "owner": runbook.owner,
        "steps": sum(kind_for(s) is not None for s in runbook.steps),
        "alerts": list(runbook.alert_names),
    }


def runbook_document(runbook: Runbook) -> dict[str, Any]:
    """Everything ``show --json`` tells: the summary, params, secrets and steps."""
    return {
        **runbook_summary(runbook),
        "sha256": runbook.sha256,
        "params": [
            {
                "name": p.name,
                "default": p.default,
                "pattern": p.pattern,
                "choices": list(p.choices),
                "required": p.must_be_given,
                "from_label": p.from_label,
                "description": p.description,
                "secret": p.secret,
            }
            for p in runbook.params
        ],
        "secrets": list(runbook.secrets),
        "env": list(runbook.env),
        "steps": [
            {
                "name": s.name,
                "kind": s.kind,
                "runnable": kind_for(s) is not None,
                "section": list(s.section),
                "line": s.line,
                "attributes": dict(s.attributes),
                "code": s.code,
            }
            for s in runbook.steps
        ],
    }


LIST_COLUMNS = ("name", "title", "owner", "steps", "alerts")
"""The columns of ``ops runbook list``, in display order (``-o wide`` shows them all)."""

LIST_DROP_ORDER = ("alerts", "steps", "owner")
"""Given up first on a narrow terminal; the name (what ``show`` and ``run`` take) stays."""


def list_table(runbooks: list[Runbook], columns: Sequence[str] = LIST_COLUMNS) -> Any:
    """One row per runbook; names and alert names are never cut, titles wrap."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Runbooks", title_justify="left")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column == "steps" else "left",
            no_wrap=column != "title",
        )
    for runbook in runbooks:
        cells: dict[str, Text | str] = {
            "name": Text(runbook.name),
            "title": Text(runbook.title),
            "owner": Text(runbook.owner) if runbook.owner else Text("none", style="red"),
            "steps": str(sum(kind_for(s) is not None for s in runbook.steps)),
            "alerts": Text("\n".join(runbook.alert_names)),
        }
        table.add_row(*(cells[column] for column in columns))
    return table


def show_renderables(runbook: Runbook) -> list[Any]:
    """The runbook's header, params and steps grouped by section."""
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    header = Text()
    header.append(runbook.title or runbook.name, style="bold")
    header.append(f"\n{runbook.source}", style="dim")
    if runbook.owner:
        header.append(f"\nowner: {runbook.owner}")
    if runbook.alert_names:
        header.append(f"\nalerts: {', '.join(runbook.alert_names)}")
    if runbook.secrets:
        header.append(f"\nsecrets (from the environment): {', '.join(runbook.secrets)}")
    if runbook.env:
        header.append(f"\nenv (passed to unattended runs): {', '.join(runbook.env)}")
    parts.append(Panel(header, expand=False))
    if runbook.params:
        params = Table(title="Parameters", title_justify="left")
        for column in ("name", "default", "pattern / choices", "from label", "description"):
            params.add_column(column)
        for p in runbook.params:
            rule = p.pattern or (" | ".join(p.choices) if p.choices else "")
            default = "(secret)" if p.secret else (p.default if p.default is not None else "")
            name = f"{p.name}{' *' if p.must_be_given else ''}"
            params.add_row(
                *(Text(c) for c in (name, default, rule, p.from_label or "", p.description))
            )
        parts.append(params)
    section: tuple[str, ...] | None = None
    for number, step in enumerate(runbook.steps, 1):
        if step.section != section:
            section = step.section
            parts.append(Rule(" / ".join(section) or "(top)", align="left"))
        parts.append(_step_title(number, step))
        lexer = _LEXERS.get(step.kind, step.language.lower() or "text")
        parts.append(
            Syntax(
                step.code.rstrip("\n") or " ",
                lexer,
                line_numbers=False,
                padding=(0, 2),
                word_wrap=True,
            )
        )
    return parts


def _step_title(number: int, step: Step) -> Any:
    from rich.text import Text

    title = Text()
    title.append(f"{number}. ", style="bold")
    title.append(step.name, style="bold")
    title.append(f" [{step.kind}]", style=_KIND_STYLE.get(step.kind, ""))
    extras = {k: v for k, v in step.attributes.items() if k != "name"}
    if extras:
        # 'key: value', as in YAML: 'expect=== 1' read as an operator soup
        title.append("  " + "  ".join(f"{k}: {v}" for k, v in extras.items()), style="cyan")
    title.append(f"  line {step.line}", style="dim")
    if kind_for(step) is None:
        title.append(f"\n   documentation: {not_runnable(step)}", style="dim")
    elif (step.attr("background") or "").strip().lower() in ("true", "yes", "1"):
        title.append("\n   background: the run goes on at once and stops it when it ends")
    return title
