"""Rollout plans: the worked example parses; bad plans fail naming the YAML path."""

from __future__ import annotations

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.rollout.plan import load_plan, parse_plan

HEAD = "version: ops/v1\nkind: Rollout\nservice: search\n"


def test_the_worked_example_plan_has_three_stages_with_checks() -> None:
    plan = load_plan("rollouts/search.yaml")
    assert [s.name for s in plan.stages] == ["pilot", "department", "all-staff"]
    department = plan.stage("department")
    assert department.soak == 7 * 86400
    assert [c.kind for c in department.checks] == [
        "budget_remaining",
        "not_status",
        "sli",
        "promql",
    ]
    budget = department.checks[0]
    assert (budget.slo, budget.threshold and budget.threshold.value) == ("search/availability", 0.5)
    assert department.checks[2].window == 7 * 86400
    assert plan.history_path == "rollouts/search.history.jsonl"
    assert plan.stage("pilot").runbook is not None
    assert dict(plan.stage("pilot").runbook.params)["STAGE"] == "pilot"


def test_a_plan_is_found_by_name_in_its_directory() -> None:
    assert load_plan("search").name == "search"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "stages: [{name: pilot, soak: 7x}]",
            "p.yaml: stages[0].soak: not a duration: '7x' (use e.g. '30s', '5m', '1h30m')",
            id="a soak that is not a duration",
        ),
        pytest.param(
            "stages: [{name: pilot, checks: [{slo: search/availability, budget_remaining: '>= 50'}]}]",
            "p.yaml: stages[0].checks[0].budget_remaining: expected a fraction in [0, 1] or a "
            "percentage (did you mean 50%?)",
            id="a bare number above one is a percentage without its sign",
        ),
        pytest.param(
            "stages: [{name: pilot, checks: [{slo: search/availability}]}]",
            "p.yaml: stages[0].checks[0]: give exactly one of budget_remaining, sli, not_status, "
            "promql",
            id="a check of no kind",
        ),
        pytest.param(
            "stages: [{name: pilot, checks: [{promql: up, expect: '== 1'}]}]",
            "p.yaml: stages[0].checks[0].expect: expected a comparison like '< 0.05', got '== 1'",
            id="equality cannot be a worst value",
        ),
        pytest.param(
            "stages: [{name: pilot}, {name: pilot}]",
            "p.yaml: stages[1].name: stage 'pilot' is defined twice",
            id="duplicate stage",
        ),
        pytest.param(
            "stages: [{name: pilot, runbok: x}]",
            "p.yaml: stages[0].runbok: unknown key (did you mean 'runbook'?); valid keys: name, "
            "description, runbook, checks, soak, rollback",
            id="a typo gets a suggestion",
        ),
        pytest.param(
            "stages: [{name: pilot, checks: [{service: search, not_status: [burning]}]}]",
            "p.yaml: stages[0].checks[0].not_status[0]: expected one of exhausted, critical, "
            "warning, ok, no_data, got 'burning'",
            id="an unknown status",
        ),
        pytest.param(
            "stages: []",
            "p.yaml: stages: a plan needs at least one stage",
            id="no stages",
        ),
        pytest.param(
            "stages: [{name: pilot, runbook: {name: x, params: {stage: a}}}]",
            "p.yaml: stages[0].runbook.params.stage: param names are UPPER_SNAKE_CASE",
            id="param names as the runbook spells them",
        ),
    ],
)
def test_bad_plans_name_the_place(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_plan(HEAD + body, "p.yaml")
    assert str(caught.value) == message


def test_a_wrong_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^p.yaml: kind: expected 'Rollout', got 'SLO'$"):
        parse_plan("version: ops/v1\nkind: SLO\nservice: s\nstages: [{name: a}]", "p.yaml")


def test_a_missing_plan_says_where_it_looked() -> None:
    with pytest.raises(ConfigError, match=r"^rollouts/nope.yaml: file not found"):
        load_plan("nope")
