"""At the terminal: a bad value at a param prompt is asked again, a manual step needs the
word 'done', a run stopped for a person is 'waiting'."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.text import Text

from ops_toolkit.cli import main
from ops_toolkit.cli.terminal import TerminalUI
from ops_toolkit.runbook.execute import resolve_params
from ops_toolkit.runbook.parse import parse_runbook

FENCE = "```"


def _ui(monkeypatch: pytest.MonkeyPatch, typed: str) -> tuple[TerminalUI, io.StringIO]:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    shown = io.StringIO()
    return TerminalUI(Console(file=shown, width=200), io.StringIO(), interactive=True), shown


def test_an_invalid_value_at_a_param_prompt_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the first typo ended the run with an error."""
    runbook = parse_runbook(
        "---\ntitle: t\nparams:\n  SERVICE: {required: true, pattern: '^[a-z-]+$'}\n---\n"
        f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n',
        "rb.md",
    )
    ui, shown = _ui(monkeypatch, "Search API!\nsearch-api\n")
    assert resolve_params(runbook, {}, {}, ui) == {"SERVICE": "search-api"}
    assert shown.getvalue() == (
        "rb.md:4: param SERVICE: value 'Search API!' does not match pattern '^[a-z-]+$'; try "
        "again\n"
    )


@pytest.mark.parametrize(
    ("typed", "done"),
    [("\n\ndone\n", True), ("\nskip\n", False), ("yes\ndone\n", True)],
    ids=["a stray Enter is not done", "skip is a word too", "only the words count"],
)
def test_a_manual_step_needs_the_word_done(
    monkeypatch: pytest.MonkeyPatch, typed: str, done: bool
) -> None:
    """Before: the prompt defaulted to done, so a stray Enter marked the step done."""
    runbook = parse_runbook(
        f'---\ntitle: t\n---\n{FENCE}manual {{"name":"drain"}}\nDrain the node.\n{FENCE}\n',
        "rb.md",
    )
    ui, _ = _ui(monkeypatch, typed)
    assert ui.manual(runbook.steps[0], "Drain the node.") is done


def test_a_run_stopped_at_a_manual_step_is_waiting(tmp_path: Path, runner: CliRunner) -> None:
    """Before: 'aborted', as if someone had stopped it."""
    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: t\n---\n"
        f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n'
        f'{FENCE}manual {{"name":"drain"}}\nDrain the node.\n{FENCE}\n',
        encoding="utf-8",
    )
    state = str(tmp_path / "state")
    args = ["runbook", "run", str(path), "--state-dir", state, "--non-interactive", "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    run_id = result.stderr.rsplit(" ", 1)[-1].strip()
    assert result.stderr.endswith(f"Run waiting. Resume with: ops runbook resume {run_id}\n")
    listed = runner.invoke(main, ["runbook", "runs", "--state-dir", state, "--json"])
    assert "waiting" in listed.stdout


def test_a_confirm_manual_step_asks_once_and_shows_its_text_expanded_and_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 'Run step 'page'? [y/N]' showed the text as written ($INCIDENT, $PAGER_TOKEN),
    then the manual prompt showed it again: two questions for one step."""
    import os

    from ops_toolkit.runbook.audit import AuditLog
    from ops_toolkit.runbook.execute import RunOptions, World, run_document, start_run
    from ops_toolkit.runbook.state import StateStore

    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: t\nparams:\n  INCIDENT: {default: INC-42}\n  BRIDGE: {secret: true}\n"
        "secrets: [PAGER_TOKEN]\n---\n"
        f'{FENCE}manual {{"name":"page","confirm":"true"}}\n'
        "Page the search lead about $INCIDENT (token ${PAGER_TOKEN}); bridge $BRIDGE.\n"
        f"{FENCE}\n",
        encoding="utf-8",
    )
    ui, shown = _ui(monkeypatch, "done\n")
    world = World(
        ui=ui,
        store=StateStore(str(tmp_path / "state")),
        audit=AuditLog(str(tmp_path / "state" / "audit.jsonl")),
        env={"PATH": os.environ["PATH"], "PAGER_TOKEN": "pager-s3cret", "BRIDGE": "meet-9f8e7d"},
        clock=lambda: 1796000000.0,
        user="alice",
        host="laptop",
    )
    record = start_run(parse_runbook(path.read_text(), str(path)), RunOptions(), world)
    assert [(s["name"], s["status"]) for s in run_document(record)["steps"]] == [
        ("page", "succeeded")
    ]
    # params are filled in, a secret param masked; a secret of the runbook's keeps its name
    header, *lines = shown.getvalue().splitlines()
    assert header.startswith("page manual ─")
    assert lines == [
        "Page the search lead about INC-42 (token ${PAGER_TOKEN}); bridge ***.",
        "● page: succeeded (0.00s) · done",
    ]
    assert capsys.readouterr().err == "Type 'done' when it is done, or 'skip' (done, skip): "


def _step(heading: str = "Restart") -> Any:
    runbook = parse_runbook(
        f'---\ntitle: t\n---\n# T\n## {heading}\n{FENCE}sh {{"name":"roll-out"}}\ntrue\n{FENCE}\n',
        "rb.md",
    )
    return runbook.steps[0]


def _shown_lines(console: Console, heading: str, message: str, attempts: int = 1) -> str:
    ui = TerminalUI(console, io.StringIO(), interactive=False)
    step = _step(heading)
    ui.step_started(step, attempts, attempts)
    ui.step_finished(step, "failed", message, 1.5)
    shown = console.file.getvalue()
    assert isinstance(shown, str)
    return shown


@pytest.mark.parametrize(
    ("heading", "message", "width"),
    [
        ("Restart", "", 80),
        ("Restart", "exit code 3", 80),
        ("A heading long enough to be cut with an ellipsis by the rule", "", 40),
        ("再起動する手順", "exit code 1", 40),
        ("Roll out [optional]", "output does not match /^ok [a-z]+$/", 100),
        ("Tabs\tand [/] closing tags", "a [bold]word[/bold]", 120),
        ("Cut", "", 2),
    ],
    ids=[
        "a short header",
        "a message",
        "a long header cut to the width",
        "wide characters",
        "brackets are text",
        "a tab and tags are text",
        "no room for a title",
    ],
)
def test_without_colours_the_lines_are_what_rich_draws(
    heading: str, message: str, width: int
) -> None:
    """The plain path (a log, a pipe, --json's stderr) writes the lines rich draws on a
    terminal without colours, byte for byte, without rich's rendering (issue 15); only a
    result line wider than the console is not wrapped."""
    plain = _shown_lines(Console(file=io.StringIO(), width=width), heading, message, 2)
    drawn = _shown_lines(
        Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None),
        heading,
        message,
        2,
    )
    if width < 40:  # rich wraps the result line; the header is the same
        plain, drawn = plain.splitlines()[0], drawn.splitlines()[0]
    assert plain == drawn


@pytest.mark.parametrize(
    "colours", [False, True], ids=["plain (a log, --json)", "a colour terminal"]
)
def test_headings_and_messages_are_shown_as_written_never_as_markup(colours: bool) -> None:
    """Before: read as rich markup, '[a-z]' vanished from the message and '[optional]' from
    the heading (a '[/]' in either raised a MarkupError mid-run)."""
    console = Console(
        file=io.StringIO(),
        width=100,
        force_terminal=colours,
        color_system="standard" if colours else None,
    )
    shown = _shown_lines(console, "Roll out [optional]", "output does not match /^ok [a-z]+$/")
    header, result = Text.from_ansi(shown).plain.splitlines()
    assert header.startswith("roll-out sh · Roll out [optional] ───")
    assert result == "● roll-out: failed (1.50s) · output does not match /^ok [a-z]+$/"
