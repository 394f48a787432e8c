"""Evaluating a stage's checks at one pinned time, each over its soak window.

A check must have held for the whole soak, not only now: SLO checks and PromQL checks are
asked as the worst value of a subquery over ``[at - soak, at]`` (Prometheus computes it in
one query). Burn-rate statuses (``not_status``) are read at ``at`` only: they already look
back over their own 5m to 3d windows; ``exhausted`` over the soak is the budget check's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.model import MetricsSource, Sample
from ops_toolkit.rollout.plan import Check, Stage
from ops_toolkit.slo.model import SLO


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict with the value it saw, kept as evidence in the history."""

    name: str
    description: str
    passed: bool
    value: float | str | None
    threshold: str
    detail: str
    query: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
            "query": self.query,
        }


def _ratio_expression(slo: SLO, seconds: int) -> str:
    """The SLO's error ratio over ``seconds`` as one PromQL expression."""
    from ops_toolkit.slo.queries import count_queries, promql_range

    counted, counted_query, total_query = count_queries(slo.sli, promql_range(seconds))
    if counted == "bad":
        return f"({counted_query}) / ({total_query})"
    return f"1 - ({counted_query}) / ({total_query})"


def _over_soak(expression: str, worst: str, soak: int, step: int) -> str:
    if soak <= 0:
        return expression
    step = max(60, min(step, soak))
    return f"{worst}(({expression})[{format_duration(soak)}:{format_duration(step)}])"


def _find_slo(check: Check, slos: Sequence[SLO]) -> SLO:
    for slo in slos:
        if slo.key == check.slo:
            return slo
    from ops_toolkit.suggest import did_you_mean

    hint = did_you_mean(check.slo or "", [s.key for s in slos])
    raise ConfigError(f"{check.path}: check {check.name!r}: no SLO {check.slo!r}{hint}")


def check_queries(stage: Stage, slos: Sequence[SLO], at: float, step: int) -> list[str | None]:
    """The query each check asks (None for status checks, which use the SLO report)."""
    from ops_toolkit.slo.evaluate import period_seconds_at

    queries: list[str | None] = []
    for check in stage.checks:
        if check.kind in ("budget_remaining", "sli"):
            slo = _find_slo(check, slos)
            seconds = check.window or period_seconds_at(slo.window, at)
            # The worst budget or SLI over the soak is the highest error ratio in it.
            expression = _ratio_expression(slo, seconds)
            queries.append(_over_soak(expression, "max_over_time", stage.soak, step))
        elif check.kind == "promql":
            assert check.query is not None and check.threshold is not None
            worst = "min_over_time" if check.threshold.higher_is_better else "max_over_time"
            queries.append(_over_soak(check.query, worst, stage.soak, step))
        else:
            queries.append(None)
    return queries


def _worst(samples: Sequence[Sample], higher_is_better: bool) -> float | None:
    values = [s.value for s in samples if s.value == s.value]  # NaN is no data
    if not values:
        return None
    return min(values) if higher_is_better else max(values)


def _observed(check: Check, samples: Sequence[Sample], slos: Sequence[SLO]) -> float | None:
    """The check's value from its query's samples: the worst series, as the check reads it."""
    assert check.threshold is not None
    if check.kind == "promql":
        return _worst(samples, check.threshold.higher_is_better)
    ratio = _worst(samples, higher_is_better=False)  # the worst error ratio in the soak
    if ratio is None:
        return None
    return 1.0 - ratio if check.kind == "sli" else 1.0 - ratio / _find_slo(check, slos).budget


def _shown(check: Check, value: float) -> str:
    from ops_toolkit.formatting import percent

    return f"{value:.4g}" if check.kind == "promql" else percent(value, 2)


def evaluate_checks(
    stage: Stage,
    slos: Sequence[SLO],
    source: MetricsSource,
    at: float,
    *,
    step: int = 3600,
) -> list[CheckResult]:
    """Every check of ``stage`` at ``at``; a query that fails is a failed check, not a crash."""
    queries = check_queries(stage, slos, at, step)
    asked = [q for q in queries if q is not None]
    answers = iter(source.query_many(asked, at) if asked else [])
    soak = f" (worst over {format_duration(stage.soak)})" if stage.soak else ""
    results: list[CheckResult] = []
    for check, query in zip(stage.checks, queries, strict=True):
        if check.kind == "not_status":
            results.append(_status_result(check, slos, source, at))
            continue
        answer = next(answers)
        assert check.threshold is not None
        value = None if isinstance(answer, Exception) else _observed(check, answer, slos)
        if isinstance(answer, Exception):
            passed, detail = False, f"query failed: {answer}"
        elif value is None:
            passed, detail = False, f"no data{soak}; cannot tell"
        else:
            passed = check.threshold.holds(value)
            verdict = "holds" if passed else "fails"
            detail = f"{_shown(check, value)}{soak} {verdict} ({check.threshold.text})"
        results.append(
            CheckResult(
                check.name,
                check.describe(),
                passed,
                None if value is None else round(value, 6),
                check.threshold.text,
                detail,
                query,
            )
        )
    return results


def _status_result(
    check: Check, slos: Sequence[SLO], source: MetricsSource, at: float
) -> CheckResult:
    from ops_toolkit.slo.evaluate import evaluate

    chosen = [s for s in slos if s.service == check.service]
    description = check.describe()
    if not chosen:
        return CheckResult(
            check.name,
            description,
            False,
            None,
            "",
            f"no SLOs of service {check.service!r} were loaded",
        )
    statuses = evaluate(chosen, source, at, keep_going=True)
    errors = [f"{s.slo.key}: {s.error}" for s in statuses if s.status == "error"]
    bad = [f"{s.slo.key} {s.status}" for s in statuses if s.status in check.statuses]
    if errors:
        return CheckResult(check.name, description, False, None, "", "; ".join(errors))
    if bad:
        return CheckResult(check.name, description, False, ", ".join(bad), "", ", ".join(bad))
    worst = ", ".join(f"{s.slo.key} {s.status}" for s in statuses)
    return CheckResult(check.name, description, True, "none", "", f"holds: {worst}")
