"""``ops slo report|gate`` output against the real Prometheus: one output option, a table
readable at 80 columns, a gate verdict scripts can read."""

from __future__ import annotations

import json

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
    assert len(verdict["reasons"]) == 1
    assert verdict["reasons"][0].startswith("search/answer-latency: budget remaining ")
    assert verdict["reasons"][0].endswith(" is below the gate (minimum 99.0%); status ok")
