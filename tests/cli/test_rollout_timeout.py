"""``ops rollout`` honours ``--timeout`` as one deadline for all of its checks' queries."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
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
    assert result.exit_code == 1, result.output  # cannot tell (was 3, blocked)
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


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port bound but not listening: every connection is refused at once."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


def refused(url: str) -> str:
    return (
        f"cannot reach Prometheus at {url}: connection refused "
        "(is it running? check --prometheus)"  # the URL came from --prometheus
    )


def test_an_outage_is_cannot_tell_not_blocked_and_its_error_is_printed_once(
    tmp_path: Path, runner: CliRunner, refused_url: str
) -> None:
    """Before: exit 3 ('blocked') where 'ops slo gate' exits 1, and the connection error seven
    times, the status check's with its prefix doubled ('search/availability: search/...')."""
    args = ["rollout", "status", "search", "--dir", str(_plan(tmp_path)), "--at", str(AT)]
    result = runner.invoke(main, [*args, "--prometheus", refused_url])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stdout.split())  # the table wraps at the terminal's width
    assert text.count("cannot reach Prometheus") == 1
    assert text.endswith(f"Cannot tell whether department may be entered: - {refused(refused_url)}")
    assert "Blocked by" not in text and "Ready" not in text
    document = runner.invoke(main, [*args, "--prometheus", refused_url, "-o", "json"])
    assert document.exit_code == 1
    status = json.loads(document.stdout)
    assert (status["verdict"], status["ready"], status["blocked_by"]) == ("cannot tell", False, [])
    assert status["cannot_tell"] == [refused(refused_url)]
    calm = next(c for c in status["checks"] if c["name"] == "calm")
    for part in calm["error"].split("; "):
        key = part.split(":")[0]
        assert part.startswith(f"{key}: query '") and not part.startswith(f"{key}: {key}:")
        assert part.endswith(f"failed: {refused(refused_url)}")


def test_an_advance_during_an_outage_runs_nothing_and_exits_cannot_tell(
    tmp_path: Path, runner: CliRunner, refused_url: str
) -> None:
    folder = _plan(tmp_path)
    before = (folder / "search.history.jsonl").read_text()
    args = ["rollout", "advance", "search", "--dir", str(folder), "--at", str(AT)]
    result = runner.invoke(main, [*args, "--prometheus", refused_url, "--yes"])
    assert result.exit_code == 1, result.output
    assert " ".join(result.stdout.split()).count("cannot reach Prometheus") == 1
    assert result.stderr == (
        "search: stage 'department' not entered: cannot tell whether its checks hold (the "
        "reasons above); nothing ran. Run 'ops rollout advance search' again once Prometheus "
        "can be read (check --prometheus).\n"
    )
    assert (folder / "search.history.jsonl").read_text() == before


SLO_KEYS = (
    "search/availability",
    "search/answer-latency",
    "search/answer-accuracy",
    "search/ingestion-freshness",
)


@pytest.mark.parametrize("use_rules", ["--use-rules", "--direct", None])
def test_a_report_says_once_that_prometheus_cannot_be_reached_then_whose_budgets_it_lacks(
    tmp_path: Path, runner: CliRunner, refused_url: str, use_rules: str | None
) -> None:
    """Before: the same 'cannot reach http://...' once per SLO (in each row's source), or,
    with --direct, not at all: each row said 'error' and nothing more."""
    args = ["rollout", "report", "search", "--dir", str(_plan(tmp_path)), "--at", str(AT)]
    args += ["--prometheus", refused_url, *([use_rules] if use_rules else [])]
    cause = f"Could not read the SLO budgets: {refused(refused_url)}"
    table = runner.invoke(main, args)
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())  # the console wraps at its width
    assert text.count("cannot reach") == 1 and "SLO budgets now" not in text
    assert text.endswith(f"{cause} Not reported: - " + " - ".join(SLO_KEYS))
    markdown = runner.invoke(main, [*args, "-o", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.count("cannot reach") == 1
    assert markdown.stdout.endswith(
        f"## SLO budgets now\n\n{cause}\n\nNot reported:\n\n"
        + "".join(f"- {key}\n" for key in SLO_KEYS)
    )
    page = runner.invoke(main, [*args, "-o", "html"])
    assert page.exit_code == 0, page.output
    assert page.stdout.count("cannot reach") == 1
    assert page.stdout.endswith(
        f"<h2>SLO budgets now</h2><p>{cause}</p><p>Not reported:</p><ul>"
        + "".join(f"<li>{key}</li>" for key in SLO_KEYS)
        + "</ul></body></html>\n"
    )
