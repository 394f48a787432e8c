"""The terminal side of a runbook run: headers, live output, prompts, the summary table."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
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
    "unknown": "bold yellow",  # may have run: its outcome was not recorded
}


class TerminalUI:
    """Streams step output to ``stream`` and asks questions on the terminal when allowed.

    Step names, headings and messages are shown as text, never read as rich markup: a
    message quoting ``/^ok [a-z]+$/`` keeps its ``[a-z]``.
    """

    def __init__(self, console: Any, stream: TextIO, interactive: bool) -> None:
        self.console = console
        self.stream = stream
        self._interactive = interactive
        # Where rich would draw no colours (a log, a pipe, ``--json``'s stderr), the header
        # and result lines are written as the text rich would draw (a result line is not
        # wrapped, though: a log line stays one line) without its rendering pipeline, which
        # cost a step as much as starting its shell (issue 15, bench/step_overhead.py). The
        # width of a console that is not a terminal does not change while it runs.
        self._plain_width: int | None = None
        if not console.is_terminal and console.color_system is None:
            self._plain_width = console.width
        self._ascii = not console.encoding.startswith("utf")

    @property
    def interactive(self) -> bool:
        return self._interactive

    def step_started(self, step: Step, attempt: int, attempts: int) -> None:
        tries = f" (attempt {attempt}/{attempts})" if attempts > 1 else ""
        section = f" · {' / '.join(step.section)}" if step.section else ""  # none: no dot
        detail = f"{step.kind}{section}{tries}"
        if self._plain_width is not None:
            self._write_plain(plain_rule(f"{step.name} {detail}", self._plain_width, self._ascii))
            return
        from rich.text import Text

        self.console.rule(Text.assemble((step.name, "bold"), " ", (detail, "dim")), align="left")

    def step_output(self, step: Step, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None:
        outcome = f"● {step.name}: {status}"
        detail = f"({duration:.2f}s)" + (f" · {message}" if message else "")
        if self._plain_width is not None:
            self._write_plain(f"{outcome} {detail}")
            return
        from rich.text import Text

        line = Text.assemble((outcome, _STYLE.get(status, "")), " ", (detail, "dim"))
        self.console.print(line, highlight=False)

    def _write_plain(self, line: str) -> None:
        from rich.control import strip_control_codes  # as rich's Text drops them

        self.console.file.write(strip_control_codes(line) + "\n")
        self.console.file.flush()

    def confirm(self, step: Step, question: str) -> bool:
        self.console.print(f"[yellow]Step {step.name!r} is marked confirm:[/]")
        self.console.print(step.code.rstrip(), markup=False, highlight=False)
        with _abort_is_interrupt():
            return click.confirm(question, default=False, err=True)

    def manual(self, step: Step, instructions: str) -> bool:
        self.console.print(instructions.rstrip(), markup=False, highlight=False)
        with _abort_is_interrupt():  # no default: a stray Enter must not mark the step done
            answer = click.prompt(
                "Type 'done' when it is done, or 'skip'",
                type=click.Choice(["done", "skip"]),
                err=True,
            )
        return bool(answer == "done")

    def ask_param(self, param: Param) -> str:
        label = param.name + (f" ({param.description})" if param.description else "")
        if param.choices:
            label += f" [{'|'.join(param.choices)}]"
        with _abort_is_interrupt():
            return str(click.prompt(label, hide_input=param.secret, err=True))

    def note(self, message: str) -> None:
        from rich.text import Text

        # plain text: a message quoting a pattern like '^[a-z-]+$' is not markup
        self.console.print(Text(message, style="yellow"), highlight=False)


def plain_rule(title: str, width: int, ascii_only: bool = False) -> str:
    """``title`` and a rule to ``width`` cells, as rich's ``Console.rule(align="left")``
    draws them without colours: a title too long is cut with an ellipsis."""
    from rich.cells import cell_len, set_cell_size

    line = "-" if ascii_only else "─"
    title = title.replace("\n", " ").expandtabs(8)
    if width <= 2:
        return line * width
    if cell_len(title) > width - 2:
        title = set_cell_size(title, width - 3) + "…"
    return f"{title} {line * (width - cell_len(title) - 1)}"


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


RUNS_COLUMNS = ("run id", "runbook", "who", "started", "finished", "status")
"""The columns of ``ops runbook runs``, in display order (``-o wide`` shows them all)."""

RUNS_DROP_ORDER = ("finished", "who", "started")
"""Given up first on a narrow terminal. The run id (what ``resume`` takes) is never cut."""


def runs_table(documents: Sequence[dict[str, Any]], columns: Sequence[str] = RUNS_COLUMNS) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Runbook runs", title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=column != "runbook", overflow="fold")
    for d in documents:
        cells = {
            "run id": Text(d["run_id"]),
            "runbook": Text(d["runbook"]),
            "who": Text(d["user"]),
            "started": d["started_at"],
            "finished": d["finished_at"] or "",
            "status": Text(d["status"], style=_STYLE.get(d["status"], "")),
        }
        table.add_row(*(cells[column] for column in columns))
    return table


def run_log(document: dict[str, Any]) -> str:
    """A run as Rundeck's log view shows it: each step between its start and end times, with
    its output (masked when it was recorded), then how the run ended. Plain text: output is
    never read as markup."""
    lines = [
        f"Run {document['run_id']}: {document['status']}",
        f"runbook {document['runbook']}, by {document['user']}, started {document['started_at']}",
    ]
    for step in document["steps"]:
        name = step["name"] + (" (on_failure)" if step["handler"] else "")
        for number, earlier in enumerate(step.get("earlier", ()), 1):  # before a resume
            lines.append("")
            lines.extend(_attempt_log(f"{name} (earlier attempt {number})", earlier))
        lines.append("")
        if step["started_at"] is None:  # never reached; or let go out of turn (unknown)
            note = f": {step['message']}" if step["message"] else ""
            label = "[outcome unknown]" if step["status"] == "unknown" else "[not started]"
            lines.append(f"{label:<22} {name}: {step['status']}{note}")
            lines.extend(f"  {line}" for line in step["output"].splitlines())
            continue
        lines.extend(_attempt_log(name, step))
    lines.append("")
    finished = document["finished_at"]
    lines.append(f"[{finished}] run {document['status']}" if finished else "run not finished")
    return "\n".join(lines) + "\n"


def _attempt_log(name: str, step: dict[str, Any]) -> list[str]:
    """One outcome of a step in ``run_log``: its start, its output, how it ended."""
    lines = [f"[{step['started_at'] or 'start unknown'}] {name}: started"]
    lines.extend(f"  {line}" for line in step["output"].splitlines())
    facts = [step["status"]]
    if step["exit_code"] is not None:
        facts.append(f"exit {step['exit_code']}")
    if step["duration_s"] is not None:
        facts.append(f"{step['duration_s']:.2f}s")
    if step["attempts"] > 1:
        facts.append(f"{step['attempts']} attempts")
    if step["message"]:
        facts.append(step["message"])
    ended = step["finished_at"] or "still running"
    lines.append(f"[{ended}] {name}: {', '.join(facts)}")
    return lines


def dry_run_text(source: str, planned: Sequence[Any], scripts: dict[str, str]) -> str:
    """``--dry-run`` as text: the params and secrets every step gets, once (secrets masked),
    then each step with its verdict, its action, what joins its environment (``+ NAME``: a
    variable an earlier step captures, shown once, not under every later step) and its
    script."""
    lines = [f"Dry run of {source}: nothing runs."]
    base = dict(planned[0].env) if planned else {}
    if base:
        lines.append("Params and secrets every step gets (secrets masked):")
        lines.extend(f"   {key}={value}" for key, value in base.items())
    seen = dict(base)
    for number, step in enumerate(planned, 1):
        verdict = "would run" if step.would_run else f"would skip: {step.reason}"
        lines.append(f"{number}. {step.name} [{step.kind}] {verdict}")
        lines.append(f"   {step.action}")
        for key, value in step.env.items():
            if seen.get(key) != value:
                lines.append(f"   + {key}={value}")
                seen[key] = value
        lines.extend(f"   | {line}" for line in scripts.get(step.name, "").splitlines())
    return "\n".join(lines) + "\n"
