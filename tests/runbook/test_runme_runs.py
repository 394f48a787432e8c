"""Running what Runme runs: steps by automatic name or id, other languages, run-all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, World, plan_steps, run_document, start_run
from ops_toolkit.runbook.parse import read_runbook
from ops_toolkit.runbook.state import StateStore
from tests.runbook.fakes import ScriptedUI

NOTEBOOK = str(Path(__file__).parent / "fixtures" / "runme" / "search-notebook.md")


def world(tmp_path: Path, ui: ScriptedUI | None = None, env: dict[str, str] | None = None) -> World:
    return World(
        ui=ui or ScriptedUI(),
        store=StateStore(str(tmp_path / "state")),
        audit=AuditLog(str(tmp_path / "state" / "audit.jsonl")),
        env={"PATH": os.environ["PATH"], **(env or {})},
        sleep=lambda seconds: None,
        user="alice",
        host="laptop",
    )


def outputs(record) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(s["name"], s["status"], s["output"]) for s in run_document(record)["steps"]]


def test_steps_are_selected_by_automatic_name_or_runme_id(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    options = RunOptions(steps=("echo-shards", "01JD4Q7A1B2C3D4E5F6G7H8J9N"))
    record = start_run(runbook, options, world(tmp_path))
    assert outputs(record) == [
        ("echo-shards", "succeeded", "shards: 3\n"),
        ("echo-index-2", "succeeded", "index ok, again\n"),
    ]


def test_a_step_in_another_language_runs_with_its_interpreter(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    record = start_run(runbook, RunOptions(steps=("printfrom-python",)), world(tmp_path))
    assert outputs(record) == [("printfrom-python", "succeeded", "from python\n")]


def test_a_step_ops_cannot_run_is_refused_with_the_reason(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(steps=("consolelogops-does",)), world(tmp_path))
    assert str(raised.value) == (
        f"{NOTEBOOK}:45: step 'consolelogops-does': ops does not run 'js' blocks; give the step "
        'an "interpreter" attribute (the program that runs it, e.g. "interpreter":"node")'
    )


def test_a_run_of_all_steps_leaves_out_documentation_and_excluded_steps() -> None:
    runbook = read_runbook(NOTEBOOK)
    assert [s.name for s in plan_steps(runbook, RunOptions())] == [
        "echo-index",
        "echo-shards",
        "echo-index-2",
        "export-indexname",
        "printfrom-python",
    ]
    assert [s.name for s in plan_steps(runbook, RunOptions(from_step="printfrom-python"))] == [
        "printfrom-python"
    ]
