"""A run limited by --tag or --step never runs an on_failure handler outside that selection.

``--tag diagnose`` is what ops serve runs unattended for an alert (auto_diagnose, the Run
diagnose button, /ops runbook): its promise is that only read-only diagnose steps execute,
so a failed diagnose step's mitigation handler is recorded as skipped, never run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ops_toolkit.runbook.execute import RunOptions, plan_steps
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import read_runbook
from tests.cli.test_run_cli import FENCE, ops


def handler_runbook(tmp_path: Path, handler_tag: str = "") -> Path:
    """A diagnose step that fails, its on_failure handler leaving a marker when it runs."""
    tag = f',"tag":"{handler_tag}"' if handler_tag else ""
    path = tmp_path / "svc.md"
    path.write_text(
        "---\ntitle: handler\nowner: team\n---\n# handler\n\n"
        f'{FENCE}sh {{"name":"check-health","tag":"diagnose","on_failure":"restart"}}\n'
        f"exit 1\n{FENCE}\n\n## Mitigate\n\n"
        f'{FENCE}sh {{"name":"restart"{tag}}}\necho ran > {tmp_path}/restarted\n{FENCE}\n'
    )
    return path


def run_json(tmp_path: Path, *args: str) -> dict[str, object]:
    result = ops(
        "runbook", *args, "--json", "--non-interactive", "--state-dir", str(tmp_path / "state")
    )
    assert result.returncode == 1, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def steps_of(document: dict[str, object]) -> list[tuple[str, str, str]]:
    steps = document["steps"]
    assert isinstance(steps, list)
    return [(s["name"], s["status"], s["message"]) for s in steps]


def test_a_tag_diagnose_run_skips_a_handler_that_is_not_a_diagnose_step(tmp_path: Path) -> None:
    document = run_json(tmp_path, "run", str(handler_runbook(tmp_path)), "--tag", "diagnose")
    assert steps_of(document) == [
        ("check-health", "failed", "exit code 1"),
        ("restart", "skipped", "on_failure handler 'restart' not selected (--tag diagnose)"),
    ]
    assert not (tmp_path / "restarted").exists()
    audit = [json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").open()]
    assert [(e.get("step"), e.get("status")) for e in audit if e["event"] == "step_finished"] == [
        ("check-health", "failed"),
        ("restart", "skipped"),
    ]


def test_a_step_run_skips_a_handler_it_does_not_name(tmp_path: Path) -> None:
    document = run_json(tmp_path, "run", str(handler_runbook(tmp_path)), "--step", "check-health")
    assert steps_of(document)[1] == (
        "restart",
        "skipped",
        "on_failure handler 'restart' not selected (--step check-health)",
    )
    assert not (tmp_path / "restarted").exists()


def test_a_handler_inside_the_selection_runs(tmp_path: Path) -> None:
    path = handler_runbook(tmp_path, handler_tag="diagnose")
    document = run_json(tmp_path, "run", str(path), "--tag", "diagnose")
    assert steps_of(document)[1] == ("restart", "succeeded", "")
    assert (tmp_path / "restarted").read_text() == "ran\n"


def test_a_run_without_a_selection_still_runs_its_handler(tmp_path: Path) -> None:
    document = run_json(tmp_path, "run", str(handler_runbook(tmp_path)))
    assert steps_of(document)[1] == ("restart", "succeeded", "")
    assert (tmp_path / "restarted").exists()


def test_a_resumed_tag_diagnose_run_keeps_its_selection(tmp_path: Path) -> None:
    first = run_json(tmp_path, "run", str(handler_runbook(tmp_path)), "--tag", "diagnose")
    run_id = first["run_id"]
    assert isinstance(run_id, str)
    resumed = run_json(tmp_path, "resume", run_id)
    assert steps_of(resumed) == [
        ("check-health", "failed", "exit code 1"),
        ("restart", "skipped", "on_failure handler 'restart' not selected (--tag diagnose)"),
    ]
    assert not (tmp_path / "restarted").exists()


def test_ops_serve_diagnose_never_runs_a_mitigation_handler(tmp_path: Path) -> None:
    """Through the Diagnoser that auto_diagnose, the Run diagnose button and /ops runbook
    use (in its own process: it makes itself non-dumpable)."""
    path = handler_runbook(tmp_path)
    code = textwrap.dedent(f"""
        import json
        from ops_toolkit.runbook.execute import no_metrics
        from ops_toolkit.serve.diagnose import Diagnoser
        from ops_toolkit.serve.store import Store
        store = Store({str(tmp_path / "state.db")!r})
        diagnoser = Diagnoser(store, {str(tmp_path / "runs")!r}, {{}}, no_metrics, lambda: None)
        message = diagnoser.message_for({str(path)!r}, {{"alertname": "SvcDown"}})
        print(json.dumps([block["text"]["text"] for block in message["blocks"]]))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    texts = json.loads(result.stdout)
    assert texts[1:] == [
        ":x: *check-health* failed: exit code 1",
        ":fast_forward: *restart* skipped: on_failure handler 'restart' not selected "
        "(--tag diagnose)",
    ]
    assert not (tmp_path / "restarted").exists()


def test_lint_warns_of_a_diagnose_step_whose_handler_is_not_a_diagnose_step(
    tmp_path: Path,
) -> None:
    findings = lint_runbook(read_runbook(str(handler_runbook(tmp_path))))
    assert [str(f) for f in findings if f.rule == "handler-not-diagnose"] == [
        f"{tmp_path}/svc.md:7: warning: step 'check-health': on_failure handler 'restart' is "
        "not tagged diagnose, so a --tag diagnose run (ops serve's unattended diagnose) skips "
        "it; tag it diagnose if it only reads"
    ]
    tagged = lint_runbook(read_runbook(str(handler_runbook(tmp_path, handler_tag="diagnose"))))
    assert [f for f in tagged if f.rule == "handler-not-diagnose"] == []


def test_a_runme_category_is_a_tag(tmp_path: Path) -> None:
    """Runme selects cells by ``category`` (comma-separated); ``--tag`` selects the same."""
    path = tmp_path / "notebook.md"
    path.write_text(
        "# Notebook\n\n"
        '```sh {"name":"look","category":"diagnose,read"}\necho looking\n```\n\n'
        '```sh {"name":"fix","category":"mitigate"}\necho fixing\n```\n\n'
        '```sh {"name":"both","tag":"diagnose","category":"diagnose"}\necho both\n```\n',
        encoding="utf-8",
    )
    runbook = read_runbook(str(path))
    assert [s.tags for s in runbook.steps] == [("diagnose", "read"), ("mitigate",), ("diagnose",)]
    chosen = plan_steps(runbook, RunOptions(tags=("diagnose",)))
    assert [s.name for s in chosen] == ["look", "both"]
