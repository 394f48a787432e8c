"""Every SLO file format against the real Prometheus and promtool.

The fixtures in tests/slo/fixtures/ describe the worked example's metrics in Sloth, Pyrra and
OpenSLO form, so their budgets are checked against the generator's true counts (the same
truth and bounds as test_slo_report.py), and the rules they make pass promtool.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo import budget
from ops_toolkit.slo.evaluate import evaluate
from ops_toolkit.slo.spec import load_slos
from ops_toolkit.slo.windows import BURN_WINDOWS
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_rules import promtool
from tests.integration.test_slo_report import truth

FIXTURES = Path(__file__).resolve().parent.parent / "slo" / "fixtures"

# fixture -> (service, number of SLOs, promtool tests generated: 4 per SLO it can synthesise,
# more for latency SLIs (both bucket spellings) and good/bucket series that can go missing)
FORMATS = {
    "sloth/search.yaml": ("search-sloth", 3, 9),
    "sloth/search-k8s.yaml": ("search-k8s", 2, 4),
    "pyrra/search.yaml": ("search-pyrra", 3, 14),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_budgets_match_the_generators_truth(name: str, worked_prometheus: LoadedPrometheus) -> None:
    slos = load_slos([str(FIXTURES / name)])
    at = worked_prometheus.end
    statuses = evaluate(slos, PrometheusSource(worked_prometheus.url), at)
    assert len(statuses) == FORMATS[name][1]
    for status in statuses:
        slo = status.slo
        assert status.error is None, status.error
        bad, total = truth(worked_prometheus, slo.name, at - slo.window.seconds, at)
        assert status.period is not None
        assert budget.error_rate(status.period) == pytest.approx(bad / total, rel=2e-3), slo.key
        assert status.budget_remaining == pytest.approx(
            1 - (bad / total) / slo.budget, abs=0.002
        ), slo.key
        for window in BURN_WINDOWS:
            w_bad, w_total = truth(worked_prometheus, slo.name, at - window, at)
            counts = status.windows[window]
            if w_total == 0:
                assert counts is None, (slo.key, window)
                continue
            assert counts is not None, (slo.key, window)
            assert budget.error_rate(counts) == pytest.approx(
                w_bad / w_total, rel=2e-2, abs=1e-4
            ), (slo.key, window)
    # The generator's scenario: a 3% error incident in the last hour pages.
    assert [s.status for s in statuses if s.slo.name == "availability"] == ["critical"]


@pytest.mark.parametrize("name", list(FORMATS))
def test_rules_pass_promtool_check_and_their_tests(name: str, tmp_path: Path) -> None:
    service, count, tests = FORMATS[name]
    result = CliRunner().invoke(
        main, ["slo", "rules", str(FIXTURES / name), "-o", str(tmp_path), "--tests"]
    )
    assert result.exit_code == 0, result.output
    rules = tmp_path / f"{service}.rules.yaml"
    check = promtool("check", "rules", str(rules))
    assert check.returncode == 0, check.stdout + check.stderr
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert len(groups) == 3 * count  # events, ratios, alerts per SLO
    test_file = tmp_path / f"{service}.rules.test.yaml"
    assert len(yaml.safe_load(test_file.read_text())["tests"]) == tests
    run = promtool("test", "rules", str(test_file))
    assert run.returncode == 0, run.stdout + run.stderr


def test_validate_report_and_gate_accept_every_format(
    worked_prometheus: LoadedPrometheus,
) -> None:
    paths = [str(FIXTURES / "sloth"), str(FIXTURES / "pyrra")]
    validated = CliRunner().invoke(main, ["slo", "validate", *paths, "--json"])
    assert validated.exit_code == 0, validated.output
    assert sorted(f"{r['service']}/{r['slo']}" for r in json.loads(validated.stdout)["slos"]) == [
        "search-k8s/availability",
        "search-k8s/ingestion-freshness",
        "search-pyrra/answer-accuracy",
        "search-pyrra/answer-latency",
        "search-pyrra/availability",
        "search-sloth/answer-accuracy",
        "search-sloth/answer-latency",
        "search-sloth/availability",
    ]
    at = str(worked_prometheus.end)
    server = ["--prometheus", worked_prometheus.url, "--at", at]
    report = CliRunner().invoke(main, ["slo", "report", *paths, *server, "--format", "json"])
    assert report.exit_code == 0, report.output
    assert len(json.loads(report.stdout)) == 8
    end = worked_prometheus.end
    bad, total = truth(worked_prometheus, "availability", end - 28 * 86400, end)
    remaining = 1 - (bad / total) / 0.001
    gate = CliRunner().invoke(
        main,
        [
            "slo",
            "gate",
            "search-pyrra/availability",
            *paths,
            "--min-remaining",
            "0.25",
            "--allow-burning",  # the data's last hour pages: the gate would stop for that alone
            *server,
        ],
    )
    assert gate.exit_code == (0 if remaining >= 0.25 else 3), gate.output
    assert gate.output.startswith("search-pyrra/availability: budget remaining ")


def test_a_converted_file_reports_the_same_budgets(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    sources = [str(FIXTURES / name) for name in FORMATS]
    converted = CliRunner().invoke(
        main, ["slo", "convert", *sources, "--to", "ops", "--dir", str(tmp_path)]
    )
    assert converted.exit_code == 0, converted.output
    server = ["--prometheus", worked_prometheus.url, "--at", str(worked_prometheus.end)]

    def report(paths: list[str]) -> dict[str, object]:
        result = CliRunner().invoke(main, ["slo", "report", *paths, *server, "--format", "json"])
        assert result.exit_code == 0, result.output
        return {
            f"{d['service']}/{d['slo']}": d["budget_remaining"] for d in json.loads(result.stdout)
        }

    before = report(sources)
    assert len(before) == 8
    assert report([str(tmp_path)]) == before
