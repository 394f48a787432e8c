"""At the terminal: a bad value at a param prompt is asked again, a manual step needs the
word 'done', a run stopped for a person is 'waiting'."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

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
    assert header.startswith("page manual · ")
    assert lines == [
        "Page the search lead about INC-42 (token ${PAGER_TOKEN}); bridge ***.",
        "● page: succeeded (0.00s) · done",
    ]
    assert capsys.readouterr().err == "Type 'done' when it is done, or 'skip' (done, skip): "
