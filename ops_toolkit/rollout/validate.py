"""A plan's references, checked before anything is asked or run: the SLOs its checks name,
the services of its status checks, and the runbooks (and their params) its stages run.

Parsing a plan checks its shape; these need the SLO files and the runbooks. Before, a typo
in the third stage's ``slo:`` passed ``ops check`` and ``status`` said Ready; it surfaced
only once the second stage was entered, and without the file's name. ``ops check``,
``ops rollout status`` and ``advance`` now ask here first, for every stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from ops_toolkit.errors import ConfigError, OpsError
from ops_toolkit.rollout.plan import Check, RolloutPlan, RunbookCall
from ops_toolkit.slo.model import SLO
from ops_toolkit.suggest import did_you_mean

SLO_CHECKS = ("budget_remaining", "sli")


def reads_slos(plan: RolloutPlan) -> bool:
    """Whether any check of the plan reads an SLO (so its SLO files must be loaded)."""
    kinds = (*SLO_CHECKS, "not_status")
    return any(c.kind in kinds for s in plan.stages for c in s.checks)


def plan_problems(plan: RolloutPlan, slos: Sequence[SLO]) -> list[str]:
    """Each broken reference of ``plan`` as a one-line message naming the file and the YAML
    path; ``slos``: the SLOs of the plan's ``slos:`` files."""
    problems: list[str] = []
    for stage in plan.stages:
        for check in stage.checks:
            problem = _check_problem(plan, check, slos)
            if problem:
                problems.append(f"{plan.source}: {problem}")
        for call in (stage.runbook, stage.rollback):
            if call is not None:
                problems += [f"{plan.source}: {p}" for p in _runbook_problems(plan, call)]
    return problems


def require_valid(plan: RolloutPlan, slos: Sequence[SLO]) -> None:
    """Raise the first of the plan's problems (one line; ``ops check`` lists them all)."""
    problems = plan_problems(plan, slos)
    if problems:
        more = f" (and {len(problems) - 1} more: 'ops check' lists them)" if problems[1:] else ""
        raise ConfigError(problems[0] + more)


def _files(plan: RolloutPlan) -> str:
    return ", ".join(plan.slos)


def _check_problem(plan: RolloutPlan, check: Check, slos: Sequence[SLO]) -> str | None:
    if check.kind in SLO_CHECKS:
        keys = [s.key for s in slos]
        if check.slo in keys:
            return None
        hint = did_you_mean(check.slo or "", keys)
        return f"{check.path}.slo: no SLO {check.slo!r} in {_files(plan)}{hint}"
    if check.kind == "not_status":
        services = sorted({s.service for s in slos})
        if check.service in services:
            return None
        hint = did_you_mean(check.service or "", services)
        return f"{check.path}.service: no SLO of service {check.service!r} in {_files(plan)}{hint}"
    return None


def _runbook_problems(plan: RolloutPlan, call: RunbookCall) -> list[str]:
    from ops_toolkit.runbook.catalog import load_runbook

    try:
        runbook = load_runbook(call.name, plan.runbooks)
    except OpsError as error:
        return [f"{call.path}: {error}"]
    problems = []
    known = [p.name for p in runbook.params]
    params_path = call.path.removesuffix(".name") + ".params"
    for name in call.params:
        if runbook.param(name) is None:
            hint = did_you_mean(name, known) or (
                f" (params: {', '.join(known)})" if known else " (it declares none)"
            )
            problems.append(
                f"{params_path}.{name}: runbook {runbook.source} has no such param{hint}"
            )
    return problems
