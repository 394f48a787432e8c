"""The terminal side of a runbook run: headers, live output, prompts, the summary table."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import click

from ops_toolkit.runbook.model import Param, Step

_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "skipped": "dim",
    "needs_confirmation": "yellow",
    "pending_manual": "yellow",
}


class TerminalUI:
    """Streams step output to ``stream`` and asks questions on the terminal when allowed."""

    def __init__(self, console: Any, stream: TextIO, interactive: bool) -> None:
        self.console = console
        self.stream = stream
        self._interactive = interactive

    @property
    def interactive(self) -> bool:
        return self._interactive

    def step_started(self, step: Step, attempt: int, attempts: int) -> None:
        tries = f" (attempt {attempt}/{attempts})" if attempts > 1 else ""
        section = " / ".join(step.section)
        self.console.rule(
            f"[bold]{step.name}[/] [dim]{step.kind} · {section}{tries}[/]", align="left"
        )

    def step_output(self, step: Step, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None:
        style = _STYLE.get(status, "")
        note = f" · {message}" if message else ""
        self.console.print(
            f"[{style}]● {step.name}: {status}[/] [dim]({duration:.2f}s){note}[/]",
            highlight=False,
            markup=True,
        )

    def confirm(self, step: Step, question: str) -> bool:
        self.console.print(f"[yellow]Step {step.name!r} is marked confirm:[/]")
        self.console.print(step.code.rstrip(), markup=False, highlight=False)
        with _abort_is_interrupt():
            return click.confirm(question, default=False, err=True)

    def manual(self, step: Step, instructions: str) -> bool:
        self.console.print(instructions.rstrip(), markup=False, highlight=False)
        with _abort_is_interrupt():
            answer = click.prompt(
                "Done?", type=click.Choice(["done", "skip"]), default="done", err=True
            )
        return bool(answer == "done")

    def ask_param(self, param: Param) -> str:
        label = param.name + (f" ({param.description})" if param.description else "")
        with _abort_is_interrupt():
            return str(click.prompt(label, hide_input=param.secret, err=True))

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]{message}[/]", markup=True, highlight=False)


@contextlib.contextmanager
def _abort_is_interrupt() -> Iterator[None]:
    """Ctrl-D at a prompt (click's Abort) stops the run as Ctrl-C does: ``aborted``, resumable."""
    try:
        yield
    except click.Abort:
        raise KeyboardInterrupt from None


def make_ui(*, as_json: bool, non_interactive: bool) -> TerminalUI:
    """With ``--json`` progress goes to stderr so stdout holds only the document."""
    from rich.console import Console

    interactive = sys.stdin.isatty() and not non_interactive
    stream = sys.stderr if as_json else sys.stdout
    return TerminalUI(Console(stderr=as_json, highlight=False), stream, interactive)


def summary_table(document: dict[str, Any]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Run {document['run_id']}: {document['status']}", title_justify="left")
    for column in ("step", "status", "exit", "duration", "note"):
        table.add_column(column)
    for step in document["steps"]:
        style = _STYLE.get(step["status"], "")
        table.add_row(
            step["name"] + (" (on_failure)" if step["handler"] else ""),
            f"[{style}]{step['status']}[/]",
            "" if step["exit_code"] is None else str(step["exit_code"]),
            "" if step["duration_s"] is None else f"{step['duration_s']:.2f}s",
            Text(step["message"]),
        )
    return table
