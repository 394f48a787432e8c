"""``ops slo report|gate`` output against the real Prometheus: one output option, a table
readable at 80 columns, a gate verdict scripts can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus


def _report(prometheus: LoadedPrometheus, *extra: str, columns: int = 80) -> tuple[int, str, str]:
    args = ["slo", "report", str(ROOT / "slos"), "--prometheus", prometheus.url]
    result = CliRunner().invoke(
        main, [*args, "--at", str(prometheus.end), *extra], env={"COLUMNS": str(columns)}
    )
    return result.exit_code, result.stdout, result.stderr


def _header(table: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def test_the_report_at_80_columns_shows_whole_numbers_in_fewer_columns(
    worked_prometheus: LoadedPrometheus,
) -> None:
    code, table, notes = _report(worked_prometheus)
    assert code == 0, notes
    assert all(len(line) <= 80 for line in table.splitlines()), table
    assert "…" not in table
    assert _header(table) == ["SLO", "budget left", "burn 1h", "status"]
    row = next(line for line in table.splitlines() if "search/availability" in line)
    # the generator's scenario: a 3% error incident in the last hour pages
    assert [cell.strip() for cell in row.strip("│").split("│")][3] == "critical"
    assert (
        notes == "(80 columns: runbook, 3d, objective, 1d, 6h, SLI not shown; -o wide shows all)\n"
    )


def test_the_wide_report_shows_every_column_whatever_the_width(
    worked_prometheus: LoadedPrometheus,
) -> None:
    code, table, notes = _report(worked_prometheus, "-o", "wide")
    assert code == 0, notes
    assert _header(table) == [
        "SLO",
        "objective",
        "SLI",
        "budget left",
        "burn 1h",
        "6h",
        "1d",
        "3d",
        "status",
        "runbook",
    ]
    assert "…" not in table and notes == ""
    _, roomy, roomy_notes = _report(worked_prometheus, columns=200)
    assert _header(roomy) == _header(table) and roomy_notes == ""


def test_report_json_is_a_flag_and_yaml_the_same_document(
    worked_prometheus: LoadedPrometheus,
) -> None:
    """Before: '--json' was "No such option" and suggested '--once', which posts to chat."""
    code, as_json, notes = _report(worked_prometheus, "--json")
    assert code == 0, notes
    documents = json.loads(as_json)
    assert _report(worked_prometheus, "-o", "json")[1] == as_json
    assert _report(worked_prometheus, "--format", "json")[1] == as_json
    assert yaml.safe_load(_report(worked_prometheus, "-o", "yaml")[1]) == documents


def test_the_gate_verdict_as_json_carries_its_reasons(worked_prometheus: LoadedPrometheus) -> None:
    args = ["slo", "gate", "search/answer-latency", str(ROOT / "slos")]
    args += ["--prometheus", worked_prometheus.url, "--at", str(worked_prometheus.end)]
    result = CliRunner().invoke(main, [*args, "--min-remaining", "0.99", "--json"])
    assert result.exit_code == 3
    verdict = json.loads(result.stdout)
    assert {k: verdict[k] for k in ("slo", "verdict", "exit_code", "min_remaining", "status")} == {
        "slo": "search/answer-latency",
        "verdict": "stop",
        "exit_code": 3,
        "min_remaining": 0.99,
        "status": "ok",
    }
    budget, status = verdict["reasons"]
    assert budget.startswith("search/answer-latency: budget remaining ")
    assert budget.endswith(" is below the gate (minimum 99.0%)")
    assert status == "search/answer-latency: status ok"


def _gate(prometheus: LoadedPrometheus, *extra: str) -> tuple[int, str]:
    args = ["slo", "gate", "search/availability", str(ROOT / "slos")]
    args += ["--prometheus", prometheus.url, "--at", str(prometheus.end), *extra]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout


def test_the_gate_stops_while_the_slo_burns_fast_unless_allowed(
    worked_prometheus: LoadedPrometheus,
) -> None:
    """Before: the gate said "holds" and exited 0 while availability paged (status critical)."""
    rates = worked_prometheus_burn_rates(worked_prometheus)
    how = f"burn rate {rates[0]} over 1h, {rates[1]} over 6h"
    # the worked Prometheus holds no recorded series: the last line says so
    source = (
        "search/availability: source: queries: no recorded series: load the rules 'ops slo "
        "rules' writes into Prometheus\n"
    )
    code, text = _gate(worked_prometheus, "--min-remaining", "25%")
    budget = text.splitlines()[0]
    assert code == 3
    assert budget.startswith("search/availability: budget remaining ")
    assert budget.endswith(" holds (minimum 25.0%)")
    assert text == (
        f"{budget}\nsearch/availability: status critical: the budget burns fast ({how}); the "
        f"gate stops while it burns (--allow-burning to go on)\n{source}"
    )
    code, text = _gate(worked_prometheus, "--min-remaining", "0.25", "--allow-burning")
    assert code == 0
    assert text == (
        f"{budget}\nsearch/availability: status critical ({how}); allowed by --allow-burning\n"
        f"{source}"
    )
    code, text = _gate(worked_prometheus, "--min-remaining", "99%", "--allow-burning", "--json")
    assert (code, json.loads(text)["verdict"]) == (3, "stop")


def worked_prometheus_burn_rates(prometheus: LoadedPrometheus) -> tuple[str, str]:
    """The 1h and 6h burn rates the report shows for search/availability (the same query)."""
    _, table, _ = _report(prometheus, "--json")
    (availability,) = [d for d in json.loads(table) if d["slo"] == "availability"]
    assert availability["status"] == "critical"
    return tuple(f"{availability['burn_rates'][w]:.2f}x" for w in ("1h", "6h"))  # type: ignore[return-value]


def test_post_with_a_chart_on_the_console_leaves_no_copy_behind(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: '--post --chart' left a timestamped copy of the PNG in the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    chart = tmp_path / "burndown.png"
    args = ["slo", "report", str(ROOT / "slos"), "--prometheus", worked_prometheus.url]
    args += ["--at", str(worked_prometheus.end), "--post", "#search", "--chart", str(chart)]
    result = CliRunner().invoke(main, [*args, "--console", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["burndown.png"]
    uploads = [
        json.loads(line)
        for line in (tmp_path / "ops-messages.jsonl").read_text().splitlines()
        if '"upload"' in line
    ]
    assert [u["file"] for u in uploads] == [str(chart)]


def test_a_chart_replaces_a_link_planted_at_its_name(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    """Before: ``--chart FILE`` opened FILE for writing, following a link planted there (a
    shared or CI folder), and overwrote whatever it pointed to."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    victim.chmod(0o600)
    chart = tmp_path / "burndown.png"
    chart.symlink_to(victim)
    code, _, stderr = _report(worked_prometheus, "--chart", str(chart), "-o", "json")
    assert code == 0, stderr
    assert victim.read_text() == "keep me\n"
    assert oct(victim.stat().st_mode & 0o777) == "0o600"
    assert not chart.is_symlink()
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert oct(chart.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["burndown.png", "victim.txt"]
