"""A plan's references are checked before anything runs, in every stage: by ``ops check``,
``ops rollout status`` and ``advance``; ops.yaml's report and policy selectors by ``ops check``.

Before: a plan with ``slo: search/availabilty`` and ``runbook: {name: no-such-runbook}``
passed ``ops check`` and ``status`` said Ready; the typo surfaced once the stage before it
was entered, as ``stages[1].checks[0]: ... no SLO`` without the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main

SLOS = """version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""

BROKEN = """version: ops/v1
kind: Rollout
service: search
slos: [slos/search.yaml]
stages:
  - name: pilot
    runbook: {name: open, params: {STAGE: pilot, STAEG: typo}}
  - name: department
    checks:
      - {slo: search/availabilty, budget_remaining: ">= 50%"}
      - {service: serch, not_status: [critical]}
      - {name: load, promql: "sum(up)", expect: "< 5"}
    runbook: {name: no-such-runbook}
    rollback: open
"""

PROBLEMS = [
    "rollouts/p3.yaml: stages[0].runbook.params.STAEG: runbook runbooks/open.md has no such "
    "param (did you mean 'STAGE'?)",
    "rollouts/p3.yaml: stages[1].checks[0].slo: no SLO 'search/availabilty' in "
    "slos/search.yaml (did you mean 'search/availability'?)",
    "rollouts/p3.yaml: stages[1].checks[1].service: no SLO of service 'serch' in "
    "slos/search.yaml (did you mean 'search'?)",
    "rollouts/p3.yaml: stages[1].runbook.name: no runbook 'no-such-runbook' (looked in "
    "runbooks/); known: open",
]


@pytest.fixture
def broken(project: Path) -> Path:
    (project / "slos").mkdir()
    (project / "slos" / "search.yaml").write_text(SLOS)
    (project / "rollouts" / "p3.yaml").write_text(BROKEN)
    return project


def test_ops_check_names_every_broken_reference_of_a_plan(broken: Path) -> None:
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"error: {p}" for p in PROBLEMS]
    assert result.stderr == (
        "checked 0 config, 0 routes, 1 slos, 1 runbooks, 1 rollouts: 4 error(s), 0 warning(s)\n"
    )


def test_ops_check_reports_a_plan_that_does_not_parse(broken: Path) -> None:
    (broken / "rollouts" / "p3.yaml").write_text(BROKEN.replace("budget_remaining", "budget_left"))
    result = CliRunner().invoke(main, ["check", "--rollouts", "rollouts/p3.yaml"])
    assert result.exit_code == 1
    assert (
        "error: rollouts/p3.yaml: stages[1].checks[0]: give exactly one of budget_remaining, "
        "sli, not_status, promql" in result.stdout.splitlines()
    )


def test_status_refuses_a_plan_with_a_typo_in_a_later_stage(broken: Path) -> None:
    result = CliRunner().invoke(main, ["rollout", "status", "p3"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {PROBLEMS[0]} (and 3 more: 'ops check' lists them)\n",
    )


def test_advance_refuses_before_anything_runs(broken: Path) -> None:
    plan = broken / "rollouts" / "p3.yaml"
    plan.write_text(BROKEN.replace(", STAEG: typo", ""))
    result = CliRunner().invoke(main, ["rollout", "advance", "p3", "--yes"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {PROBLEMS[1]} (and 2 more: 'ops check' lists them)\n",
    )
    assert not (broken / "access.conf").exists()
    assert not (broken / "rollouts" / "p3.history.jsonl").exists()


def test_ops_check_names_report_and_policy_selectors_that_match_no_slo(broken: Path) -> None:
    (broken / "rollouts" / "p3.yaml").unlink()
    (broken / "ops.yaml").write_text(
        "reports:\n"
        "  - {name: weekly, cron: '0 9 * * MON', slos: [search/*, dcos/*], channel: '#x'}\n"
        "policies:\n"
        "  - {slos: [search/availabilty], channel: '#x'}\n"
    )
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "error: ops.yaml: reports[0].slos: no SLO matches dcos/*",
        "error: ops.yaml: policies[0].slos: no SLO matches search/availabilty "
        "(did you mean 'search/availability'?)",
    ]
