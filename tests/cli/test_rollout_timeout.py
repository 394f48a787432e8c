"""``ops rollout`` honours ``--timeout`` as one deadline for all of its checks' queries."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.rollout.history import History
from tests.conftest import ROOT

AT = 1796000000.0  # 2026-11-30T00:53:20Z
DAY = 86400.0


def _plan(tmp_path: Path) -> Path:
    folder = tmp_path / "rollouts"
    folder.mkdir()
    (folder / "search.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nname: search\nservice: search\n"
        f"slos: [{ROOT / 'slos' / 'search.yaml'}]\nstages:\n  - {{name: pilot}}\n"
        "  - name: department\n    checks:\n"
        "      - {name: budget, slo: search/availability, budget_remaining: '>= 50%'}\n"
        "      - {name: calm, service: search, not_status: [critical, exhausted]}\n"
        "      - {name: load, promql: 'sum(search_support_tickets_total)', expect: '< 5'}\n",
        encoding="utf-8",
    )
    history = History(str(folder / "search.history.jsonl"))
    for event in ("advance_started", "advance_finished"):
        history.append(
            {
                "event": event,
                "stage": "pilot",
                "at": AT - 8 * DAY,
                "run_id": "r1",
                "status": "succeeded",
            }
        )
    return folder


def test_timeout_is_one_deadline_for_all_the_checks(
    tmp_path: Path,
    runner: CliRunner,
    hanging_prometheus: tuple[str, list[socket.socket]],
) -> None:
    """Before: no --timeout, and each query waited its own 30 s: a hanging Prometheus held
    'ops rollout status' for a minute and more (the checks' queries, then the statuses')."""
    url, held = hanging_prometheus
    args = ["rollout", "status", "search", "--dir", str(_plan(tmp_path)), "--prometheus", url]
    result = runner.invoke(main, [*args, "--timeout", "1", "--at", str(AT), "-o", "json"])
    assert result.exit_code == 3, result.output
    checks = {c["name"]: c["detail"] for c in json.loads(result.stdout)["checks"]}
    too_slow = f"Prometheus at {url} did not answer within 1s (--timeout bounds the whole command)"
    assert checks["budget"] == checks["load"] == f"query failed: {too_slow}"
    statuses = checks["calm"].split("; ")
    assert [s.split(":")[0] for s in statuses] == [
        "search/availability",
        "search/answer-latency",
        "search/answer-accuracy",
        "search/ingestion-freshness",
    ]
    assert all(s.endswith(f"failed: {too_slow}") for s in statuses)
    # the first question only (which recorded series exist, for the source each SLO check
    # reads): once the deadline passed, neither the checks' nor the statuses' were sent
    assert len(held) == 1


def test_a_stage_description_with_rich_markup_is_printed_as_written(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The table view printed plan text through rich's markup: '[/]' in a description was a
    MarkupError traceback, '[bold]' vanished."""
    folder = _plan(tmp_path)
    plan = folder / "search.yaml"
    plan.write_text(
        plan.read_text().split("  - name: department")[0]
        + "  - {name: department, description: 'Open to [/] staff [bold]now'}\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["rollout", "status", "search", "--dir", str(folder)])
    assert (result.exit_code, result.output.splitlines()[1]) == (
        0,
        "Next: department. Open to [/] staff [bold]now",
    )
