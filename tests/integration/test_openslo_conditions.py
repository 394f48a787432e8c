"""OpenSLO burn-rate conditions are the SLO's alerts, in ``ops slo rules`` (checked by
promtool) and in the report's status (against a real Prometheus and the generator's truth).

Before: ``AlertPolicy`` conditions (``kind: burnrate``, ``threshold``, ``lookbackWindow``,
``alertAfter``) were read and then ignored: the rules and the report used the Workbook's
table whatever the file said (only ``convert`` warned).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.servers import require_binary
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_rules import promtool

SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {{name: availability}}
spec:
  service: search
  budgetingMethod: Occurrences
  timeWindow: [{{duration: 30d, isRolling: true}}]
  indicator:
    metadata: {{name: availability-sli}}
    spec:
      ratioMetric:
        counter: true
        bad: {{metricSource: {{type: Prometheus, spec: {{query: 'http_requests_total{{service="search-api",code=~"5.."}}'}}}}}}
        total: {{metricSource: {{type: Prometheus, spec: {{query: 'http_requests_total{{service="search-api"}}'}}}}}}
  objectives: [{{target: 0.999}}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {{name: the-policy}}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {{name: the-condition}}
            spec:
              severity: {severity}
              condition: {{kind: burnrate, op: {op}, threshold: {threshold}, lookbackWindow: {lookback}, alertAfter: {after}}}
"""

SELECTOR = '{service="search",slo="availability"}'


def write_slo(folder: Path, **condition: object) -> Path:
    values = {"severity": "ticket", "op": "gt", "threshold": 6, "lookback": "2h", "after": "10m"}
    path = folder / "search.openslo.yaml"
    path.write_text(SLO.format(**{**values, **condition}), encoding="utf-8")
    return path


def test_rules_alert_on_the_condition_the_file_gives(tmp_path: Path) -> None:
    slo = write_slo(tmp_path)
    result = CliRunner().invoke(main, ["slo", "rules", str(slo), "--dir", str(tmp_path), "--tests"])
    assert result.exit_code == 0, result.output
    rules = tmp_path / "search.rules.yaml"
    document = yaml.safe_load(rules.read_text(encoding="utf-8"))
    burn = [
        rule
        for group in document["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "SearchAvailabilityBudgetBurn"
    ]
    assert [(r["expr"], r["for"], r["labels"]["severity"], r["labels"]["long"]) for r in burn] == [
        (f"slo:burn_rate:2h{SELECTOR} > 6", "10m", "ticket", "2h")
    ]
    assert burn[0]["annotations"]["description"].endswith(
        "Fires when 2h is above 6x for 10m: 1.67% of the budget gone in 2h."
    )
    checked = promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [require_binary("promtool"), "test", "rules", "search.rules.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_op_gte_alerts_at_the_threshold_too(tmp_path: Path) -> None:
    slo = write_slo(tmp_path, op="gte", severity="page", threshold=14.4, lookback="1h")
    result = CliRunner().invoke(main, ["slo", "rules", str(slo), "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "search.rules.yaml").read_text(encoding="utf-8")
    assert f"expr: slo:burn_rate:1h{SELECTOR} >= 14.4\n" in text
    assert "> 14.4 and" not in text  # no Workbook pair beside the condition


def report_status(folder: Path, prometheus: LoadedPrometheus) -> str:
    result = CliRunner().invoke(
        main,
        [
            "slo", "report", str(folder), "--prometheus", prometheus.url,
            "--at", str(prometheus.end), "--direct", "-o", "json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)
    return str(status["status"])


def test_the_report_s_status_follows_the_condition(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    """The generated incident burns the last hour at ``burn`` (the truth): the Workbook's
    page pair fires (critical); a ticket condition below it warns instead, and a page
    condition above it does not fire at all."""
    at = worked_prometheus.end
    bad, total = worked_prometheus.truth("availability", at - 3600, at)
    burn = (bad / total) / 0.001
    assert burn > 14.4  # the Workbook table would say critical
    write_slo(tmp_path, severity="ticket", threshold=round(burn / 2, 1), lookback="1h")
    assert report_status(tmp_path, worked_prometheus) == "warning"
    write_slo(tmp_path, severity="page", threshold=round(burn * 2, 1), lookback="1h")
    assert report_status(tmp_path, worked_prometheus) == "ok"
    write_slo(tmp_path, severity="page", threshold=round(burn / 2, 1), lookback="1h")
    assert report_status(tmp_path, worked_prometheus) == "critical"


def test_conditions_ops_cannot_alert_on_are_refused_by_name(tmp_path: Path) -> None:
    place = "spec.alertPolicies[0].spec.conditions[0].spec"
    cases = [
        (
            {"severity": "critical"},
            f"{place}.severity: ops alerts from a burn-rate condition as a page or a ticket: "
            "expected page or ticket, got 'critical'",
        ),
        (
            {"lookback": "1m"},
            f"{place}.condition.lookbackWindow: expected at least 5m (the resolution of the "
            "recorded event counts), got '1m'",
        ),
    ]
    for condition, message in cases:
        slo = write_slo(tmp_path, **condition)
        for command in (["rules", "--dir", str(tmp_path)], ["validate"], ["report"]):
            result = CliRunner().invoke(main, ["slo", command[0], str(slo), *command[1:]])
            assert (result.exit_code, result.output) == (1, f"Error: {slo}: {message}\n")
