"""Sloth's README example in ops: its service label ``tier: "2"`` stays on every recording
series, its own ``tier`` (page/ticket) on the alerts, and promtool agrees with both; with
both alert tiers disabled it gets recording rules only."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.slo.spec import parse_slo_file
from tests.integration.test_rules import promtool

# Written after Sloth's README ("Getting started"): service labels, SLO labels, alert labels.
SLOTH_README = """version: "prometheus/v1"
service: "myservice"
labels:
  owner: "myteam"
  repo: "myorg/myservice"
  tier: "2"
slos:
  - name: "requests-availability"
    objective: 99.9
    description: "Common SLO based on availability for HTTP request responses."
    labels:
      category: availability
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      labels:
        category: "availability"
      annotations:
        summary: "High error rate on 'myservice' requests responses"
      page_alert:
        labels:
          severity: pageteam
          routing_key: myteam
      ticket_alert:
        labels:
          severity: "slack"
          slack_channel: "#alerts-myteam"
"""


def test_sloths_readme_labels_are_read() -> None:
    (slo,) = parse_slo_file(SLOTH_README, "sloth.yaml").slos
    assert dict(slo.labels) == {
        "owner": "myteam",
        "repo": "myorg/myservice",
        "tier": "2",
        "category": "availability",
    }


def test_a_tier_label_stays_on_the_series_and_ops_tier_on_the_alerts(tmp_path: Path) -> None:
    source = tmp_path / "sloth.yaml"
    source.write_text(SLOTH_README)
    out = tmp_path / "rules"
    result = CliRunner().invoke(main, ["slo", "rules", str(source), "--dir", str(out), "--tests"])
    assert result.exit_code == 0, result.output
    rules = out / "myservice.rules.yaml"
    check = promtool("check", "rules", str(rules))
    assert check.returncode == 0, check.stdout + check.stderr
    run = promtool("test", "rules", str(out / "myservice.rules.test.yaml"))
    assert run.returncode == 0, run.stdout + run.stderr
    every = [
        rule for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]
    ]
    recorded = [rule for rule in every if "record" in rule]
    alerts = [rule for rule in every if "alert" in rule]
    assert recorded and all(rule["labels"]["tier"] == "2" for rule in recorded)
    assert sorted({(rule["alert"], rule["labels"]["tier"]) for rule in alerts}) == [
        ("MyServiceHighErrorRate", "page"),
        ("MyServiceHighErrorRate", "ticket"),
        ("MyserviceRequestsAvailabilityNoData", "ticket"),
    ]
    assert all(rule["labels"]["owner"] == "myteam" for rule in alerts)


def test_a_sloth_slo_without_alerts_passes_promtool_with_recording_rules_only(
    tmp_path: Path,
) -> None:
    source = tmp_path / "sloth.yaml"
    source.write_text(
        SLOTH_README.replace(
            "      page_alert:\n        labels:\n          severity: pageteam\n",
            "      page_alert:\n        disable: true\n        labels:\n          severity: pageteam\n",
        ).replace("      ticket_alert:\n", "      ticket_alert:\n        disable: true\n")
    )
    out = tmp_path / "rules"
    result = CliRunner().invoke(main, ["slo", "rules", str(source), "--dir", str(out), "--tests"])
    assert result.exit_code == 0, result.output
    rules = out / "myservice.rules.yaml"
    check = promtool("check", "rules", str(rules))
    assert check.returncode == 0, check.stdout + check.stderr
    every = [
        rule for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]
    ]
    assert [rule for rule in every if "alert" in rule] == []
    # The generated tests still assert that no NoData alert fires on any of their inputs.
    run = promtool("test", "rules", str(out / "myservice.rules.test.yaml"))
    assert run.returncode == 0, run.stdout + run.stderr
