"""show and list of runbooks from other tools: documentation blocks stay documentation."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ops_toolkit.runbook.parse import read_runbook
from ops_toolkit.runbook.view import runbook_document, runbook_summary, show_renderables

NOTEBOOK = str(Path(__file__).parent / "fixtures" / "runme" / "search-notebook.md")


def rendered(path: str) -> str:
    console = Console(width=200, record=True, color_system=None)
    for part in show_renderables(read_runbook(path)):
        console.print(part)
    return console.export_text()


def test_show_marks_a_block_ops_does_not_run_as_documentation() -> None:
    text = rendered(NOTEBOOK)
    assert "6. consolelogops-does [js]" in text
    assert (
        "documentation: ops does not run 'js' blocks; give the step an \"interpreter\" "
        'attribute (the program that runs it, e.g. "interpreter":"node")'
    ) in text
    assert "5. printfrom-python [python]" in text
    assert text.count("documentation:") == 1


def test_show_json_and_list_count_only_the_steps_ops_runs() -> None:
    runbook = read_runbook(NOTEBOOK)
    document = runbook_document(runbook)
    assert [(s["name"], s["runnable"]) for s in document["steps"]][4:6] == [
        ("printfrom-python", True),
        ("consolelogops-does", False),
    ]
    assert runbook_summary(runbook)["steps"] == 6
