"""Dynamic shell completion, driven as a shell drives it: the real ``ops`` in a subprocess
with click's completion environment (``_OPS_COMPLETE``, ``COMP_WORDS``, ``COMP_CWORD``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import Store
from tests.conftest import ROOT

OPS = Path(sys.executable).parent / "ops"
FENCE = "```"


def complete(
    words: str, cwd: Path, shell: str = "bash", env: dict[str, str] | None = None
) -> list[str]:
    """What ``ops`` offers for the last word of ``words`` (empty after a trailing space)."""
    assert OPS.exists(), f"{OPS}: the ops console script is not installed (pip install -e .)"
    result = subprocess.run(
        [str(OPS)],
        cwd=cwd,
        env={
            **os.environ,
            "_OPS_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    return [line for line in result.stdout.splitlines() if line]


def _runbook(path: Path, steps: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {path.stem}\n---\n{steps}", encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A team's folder: runbooks (one in a subfolder, one broken), SLOs (one broken), a run
    state folder and an ``ops serve`` store with dead and pending entries."""
    _runbook(
        tmp_path / "runbooks" / "restart.md",
        f'{FENCE}sh {{"name":"drain","tag":"mitigate"}}\ntrue\n{FENCE}\n'
        f'{FENCE}sh {{"name":"restart","tag":"mitigate, verify"}}\ntrue\n{FENCE}\n'
        f'{FENCE}promql {{"name":"error-ratio","tag":"verify"}}\nup\n{FENCE}\n',
    )
    _runbook(
        tmp_path / "runbooks" / "search-errors.md", f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n'
    )
    _runbook(
        tmp_path / "runbooks" / "team" / "escalate.md",
        f'{FENCE}manual {{"name":"call"}}\nCall.\n{FENCE}\n',
    )
    # a duplicate step name and a fence whose JSON is broken: the file does not parse
    _runbook(
        tmp_path / "runbooks" / "broken.md",
        f'{FENCE}sh {{"name":"check","tag":"diagnose"}}\ntrue\n{FENCE}\n'
        f'{FENCE}sh {{"name":"check"}}\ntrue\n{FENCE}\n'
        f'{FENCE}sh {{"name":"bad",}}\ntrue\n{FENCE}\n'
        f'{FENCE}sh {{"name":"fix","tag":"mitigate"}}\ntrue\n{FENCE}\n',
    )
    (tmp_path / "runbooks" / "README.md").write_text("# Runbooks\n")
    (tmp_path / "slos").mkdir()
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path / "slos" / "search.yaml")
    (tmp_path / "slos" / "broken.yaml").write_text("version: ops/v1\nservice: [\n")
    (tmp_path / "slos" / "ingest.yaml").write_text(
        "version: ops/v1\nservice: ingest\nslos:\n  - name: freshness\n    objective: 99.5\n"
        "    sli: {ratio: {bad: 'late_total', total: 'runs_total'}}\n"
    )
    runs = tmp_path / "state" / "runs"
    runs.mkdir(parents=True)
    for run_id in ("20261129T031500Z-1a2b3c", "20261130T005320Z-abc123"):
        (runs / f"{run_id}.json").write_text("{}")
        (runs / f"{run_id}.jsonl").write_text("")
    store = Store(str(tmp_path / "ops-state.db"))
    (inbox_id,) = store.accept([("{}", 1)], 1000.0)
    planned = [Planned("g", channel, "post", {"text": "x"}) for channel in ("#a", "#b", "#c")]
    store.process(inbox_id, ["k"], planned, 1000.0)
    first, _pending, third = sorted(e.id for e in store.entries())
    store.kill(first, "HTTP 500")
    store.kill(third, "channel_not_found")
    store.db.close()
    return tmp_path


def test_command_names_come_with_their_help_without_loading_each_group(project: Path) -> None:
    assert complete("ops r", project) == ["plain,rollout", "plain,routes", "plain,runbook"]
    assert complete("ops ro", project, shell="zsh") == [
        "plain",
        "rollout",
        "Open a service stage by stage, gated on SLO evidence.",
        "plain",
        "routes",
        "Test where alerts with given labels are routed.",
    ]


def test_runbook_names_are_the_files_in_dir(project: Path) -> None:
    assert complete("ops runbook show ", project) == [
        "plain,broken",
        "plain,restart",
        "plain,search-errors",
        "plain,team/escalate",
    ]
    assert complete("ops runbook run re", project) == ["plain,restart"]
    other = {"OPS_RUNBOOKS_DIR": str(project / "runbooks" / "team")}
    assert complete("ops runbook run ", project, env=other) == ["plain,escalate"]
    # a path being typed is left to the shell's file completion
    assert complete("ops runbook show ./run", project) == ["file,./run"]


def test_step_names_come_from_the_runbook_given_before(project: Path) -> None:
    assert complete("ops runbook run restart --step ", project) == [
        "plain,drain",
        "plain,restart",
        "plain,error-ratio",
    ]
    assert complete("ops runbook run restart --tag verify --from r", project) == ["plain,restart"]
    assert complete("ops runbook run --step ", project) == []  # no runbook yet


def test_a_runbook_that_does_not_parse_still_completes_the_steps_written(project: Path) -> None:
    assert complete("ops runbook run broken --step ", project) == [
        "plain,check",
        "plain,fix",
    ]
    assert complete("ops runbook run broken --tag ", project) == [
        "plain,diagnose",
        "plain,mitigate",
    ]


def test_tags_come_with_how_many_steps_carry_them(project: Path) -> None:
    assert complete("ops runbook run restart --tag ", project) == [
        "plain,mitigate",
        "plain,verify",
    ]
    assert complete("ops runbook run restart --tag v", project, shell="zsh") == [
        "plain",
        "verify",
        "2 steps",
    ]


def test_slo_keys_complete_what_parses(project: Path) -> None:
    assert complete("ops slo gate ", project) == [
        "plain,ingest/freshness",
        "plain,search/answer-accuracy",
        "plain,search/answer-latency",
        "plain,search/availability",
        "plain,search/ingestion-freshness",
    ]
    assert complete("ops slo gate search/av", project, shell="zsh") == [
        "plain",
        "search/availability",
        "99.9%",
    ]


def test_run_ids_newest_first_from_the_state_folder(project: Path) -> None:
    state = {"OPS_STATE_DIR": str(project / "state")}
    expected = ["plain,20261130T005320Z-abc123", "plain,20261129T031500Z-1a2b3c"]
    assert complete("ops runbook resume ", project, env=state) == expected
    assert complete("ops runbook runs ", project, env=state) == expected
    given = f"ops runbook audit --state-dir {project / 'state'} 2026112"
    assert complete(given, project) == ["plain,20261129T031500Z-1a2b3c"]
    assert complete("ops runbook resume ", project, env={"OPS_STATE_DIR": "/nonexistent"}) == []


def test_outbox_retry_completes_the_dead_entries_only(project: Path) -> None:
    """Only dead entries are re-queued, so only they are offered, with their channel."""
    assert complete("ops outbox retry ", project, shell="zsh") == [
        "plain",
        "3",
        "#c",
        "plain",
        "1",
        "#a",
    ]
    missing = f"ops outbox retry --state {project / 'missing.db'} "
    assert complete(missing, project) == []
    assert not (project / "missing.db").exists()


def test_rollout_plans_complete_from_dir(project: Path) -> None:
    assert complete("ops rollout status ", ROOT) == ["plain,search"]
    assert complete("ops rollout status ", project) == []


def test_completing_names_imports_no_heavy_library(project: Path) -> None:
    """A shell waits on every Tab: listing names must not import rich, markdown-it, PyYAML,
    requests or slack_sdk (DESIGN.md's slow imports)."""
    heavy = {"rich", "markdown_it", "yaml", "requests", "slack_sdk", "pydantic"}
    for words in ("ops ", "ops runbook show ", "ops runbook resume "):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", str(OPS)],
            cwd=project,
            env={
                **os.environ,
                "_OPS_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split(" ")) - 1),
                "OPS_STATE_DIR": str(project / "state"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        imported = {
            line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
        }
        assert sorted(imported & heavy) == [], words
        assert result.stdout
