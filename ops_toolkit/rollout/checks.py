"""Evaluating a stage's checks at one pinned time, each over its soak window.

A check must have held for the whole soak, not only now: SLO checks and PromQL checks are
asked as the worst value of a subquery over ``[at - soak, at]`` (Prometheus computes it in
one query). Burn-rate statuses (``not_status``) are read at ``at`` only: they already look
back over their own 5m to 3d windows; ``exhausted`` over the soak is the budget check's job.

SLO checks read their SLO where ``ops slo report`` would (``source_choices``): the series
``ops slo rules`` records when they are present and fresh, raw counters otherwise. A
recorded ratio answers only when it covers the soak (a rule loaded an hour ago knows nothing
of the day before) and when its window is recorded; else the raw query answers, and the
check says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.model import MetricsSource, Sample, escape_promql_string
from ops_toolkit.rollout.plan import Check, Stage
from ops_toolkit.slo.evaluate import DIRECT, FORCED_DIRECT, RECORDED, SourceChoice
from ops_toolkit.slo.model import SLO


@dataclass(frozen=True)
class SourceUsed:
    """Where one SLO's numbers in a check came from, and why (as ``--explain`` says it)."""

    slo: str
    source: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"slo": self.slo, "source": self.source, "reason": self.reason}


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
    sources: tuple[SourceUsed, ...] = ()  # SLO checks: each SLO's source and why
    error: str | None = None  # why the check could not be evaluated (Prometheus failed)
    no_data: str | None = None  # why the numbers, read, say nothing yet (no series, no traffic)

    @property
    def cannot_tell(self) -> bool:
        """Not a verdict on the stage: the numbers could not be read (an outage, a timeout),
        or they were read and there were none (a series not recorded yet, a window without
        traffic). Neither blocks the stage, and neither lets it go on."""
        return self.error is not None or self.no_data is not None

    @property
    def verdict(self) -> str:
        """``holds``, ``fails`` or ``cannot tell``: what the check says of the stage."""
        if self.cannot_tell:
            return "cannot tell"
        return "holds" if self.passed else "fails"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
            "query": self.query,
            "sources": [used.as_dict() for used in self.sources],
            "error": self.error,
            "no_data": self.no_data,
            "verdict": self.verdict,
        }

    @classmethod
    def from_dict(cls, recorded: Mapping[str, Any]) -> CheckResult:
        """A check kept as evidence in the history (``as_dict``); keys it does not hold as
        fields (``verdict``, or ones a newer ops wrote) are left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in recorded.items() if key in names})


def _ratio_expression(slo: SLO, seconds: int) -> str:
    """The SLO's error ratio over ``seconds`` as one PromQL expression.

    A counted side without series is zero events (a service that never failed has no
    ``code="500"`` series), not no data: before, such a budget check could never hold.
    """
    from ops_toolkit.slo.queries import count_queries, promql_range

    counted, counted_query, total_query = count_queries(slo.sli, promql_range(seconds))
    counted_query = f"(({counted_query}) or vector(0))"
    if counted == "bad":
        return f"{counted_query} / ({total_query})"
    return f"1 - {counted_query} / ({total_query})"


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


def _recorded_name(slo: SLO, check: Check) -> str | None:
    """The recorded series holding the check's error ratio; None when its window is not one
    the rules record."""
    from ops_toolkit.slo.windows import report_windows

    if check.window is None or check.window == slo.window.period_seconds:
        return "slo:error_ratio:period"
    if check.window in report_windows(slo):
        return f"slo:error_ratio:{format_duration(check.window)}"
    return None


def _recorded_expression(slo: SLO, name: str, soak: int, step: int) -> str:
    """The worst recorded ratio over the soak, answered only when the series has a sample at
    every step the raw query would look at (else nothing, and the raw query is asked)."""
    selector = (
        f'{name}{{service="{escape_promql_string(slo.service)}",'
        f'slo="{escape_promql_string(slo.name)}"}}'
    )
    if soak <= 0:
        return selector
    step = max(60, min(step, soak))
    span = f"[{format_duration(soak)}:{format_duration(step)}]"
    return (
        f"max_over_time({selector}{span}) and on() "
        f"(count_over_time({selector}{span}) >= {soak // step})"
    )


def _source_of(
    check: Check, slo: SLO, choices: Mapping[str, SourceChoice]
) -> tuple[str | None, SourceUsed]:
    """The recorded series a ratio check reads (None: the raw counters), and why."""
    choice = choices.get(slo.key, SourceChoice(DIRECT, FORCED_DIRECT))
    if choice.source != RECORDED:
        return None, SourceUsed(slo.key, DIRECT, choice.reason)
    name = _recorded_name(slo, check)
    if name is None:
        assert check.window is not None
        window = format_duration(check.window)
        return None, SourceUsed(slo.key, DIRECT, f"the rules record no {window} window")
    return name, SourceUsed(slo.key, RECORDED, choice.reason)


def check_queries(
    stage: Stage,
    slos: Sequence[SLO],
    at: float,
    step: int,
    choices: Mapping[str, SourceChoice] | None = None,
) -> list[str | None]:
    """The query each check asks (None for status checks, which use the SLO report).

    ``choices`` (``source_choices``' answer): SLO checks whose SLO reads recorded series ask
    those; without it every check asks the raw counters.
    """
    queries: list[str | None] = []
    for check in stage.checks:
        if check.kind in ("budget_remaining", "sli"):
            slo = _find_slo(check, slos)
            name, _ = _source_of(check, slo, choices or {})
            if name is not None:
                queries.append(_recorded_expression(slo, name, stage.soak, step))
            else:
                queries.append(_direct_query(check, slo, stage.soak, at, step))
        elif check.kind == "promql":
            assert check.query is not None and check.threshold is not None
            worst = "min_over_time" if check.threshold.higher_is_better else "max_over_time"
            queries.append(_over_soak(check.query, worst, stage.soak, step))
        else:
            queries.append(None)
    return queries


def _direct_query(check: Check, slo: SLO, soak: int, at: float, step: int) -> str:
    from ops_toolkit.slo.evaluate import period_seconds_at

    seconds = check.window or period_seconds_at(slo.window, at)
    # The worst budget or SLI over the soak is the highest error ratio in it.
    return _over_soak(_ratio_expression(slo, seconds), "max_over_time", soak, step)


def _involved(stage: Stage, slos: Sequence[SLO]) -> list[SLO]:
    """The SLOs the stage's checks read, each once, in the order the checks name them."""
    found: dict[str, SLO] = {}
    for check in stage.checks:
        if check.kind in ("budget_remaining", "sli"):
            slo = _find_slo(check, slos)
            found.setdefault(slo.key, slo)
        elif check.kind == "not_status":
            for slo in slos:
                if slo.service == check.service:
                    found.setdefault(slo.key, slo)
    return list(found.values())


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
    use_rules: bool | None = None,
) -> list[CheckResult]:
    """Every check of ``stage`` at ``at``; a query that fails is a failed check, not a crash.

    ``use_rules`` True or False forces the source of every SLO check (``--use-rules``,
    ``--direct``); by default each SLO reads where ``ops slo report`` would.
    """
    from ops_toolkit.slo.evaluate import source_choices

    involved = _involved(stage, slos)
    choices = (
        source_choices(involved, source, at, use_rules=use_rules, explain=True) if involved else {}
    )
    queries = check_queries(stage, slos, at, step, choices)
    asked = [q for q in queries if q is not None]
    answers = iter(source.query_many(asked, at) if asked else [])
    soak = f" (worst over {format_duration(stage.soak)})" if stage.soak else ""
    results: list[CheckResult] = []
    for check, query in zip(stage.checks, queries, strict=True):
        if check.kind == "not_status":
            results.append(_status_result(check, slos, source, at, use_rules, choices))
            continue
        answer = next(answers)
        sources: tuple[SourceUsed, ...] = ()
        if check.kind in ("budget_remaining", "sli"):
            slo = _find_slo(check, slos)
            name, used = _source_of(check, slo, choices)
            if name is not None and answer == []:  # the rules do not cover the soak
                query = _direct_query(check, slo, stage.soak, at, step)
                answer = source.query_many([query], at)[0]
                span = format_duration(stage.soak)
                used = SourceUsed(slo.key, DIRECT, f"recorded series do not cover the {span} soak")
            sources = (used,)
        assert check.threshold is not None
        value = None if isinstance(answer, Exception) else _observed(check, answer, slos)
        error = str(answer) if isinstance(answer, Exception) else None
        no_data = None
        if error is not None:
            passed, detail = False, f"query failed: {error}"
        elif value is None:
            assert not isinstance(answer, Exception)
            no_data = _why_no_data(check, answer, slos, at)
            passed, detail = False, f"no data{soak}: {no_data}; cannot tell"
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
                sources,
                error,
                no_data,
            )
        )
    return results


def _why_no_data(check: Check, samples: Sequence[Sample], slos: Sequence[SLO], at: float) -> str:
    """Why a query that answered holds no value: no series at all (the metric is not
    exported or recorded yet), or only NaN (0 of 0: no traffic in the window)."""
    if not samples:
        return "no series yet (is the metric exported, its recording rule loaded?)"
    if check.kind == "promql":
        return "the query's value is NaN (0/0: no traffic in its window?)"
    from ops_toolkit.slo.evaluate import period_seconds_at

    seconds = check.window or period_seconds_at(_find_slo(check, slos).window, at)
    return f"no events in the {format_duration(seconds)} window (no traffic)"


def _status_result(
    check: Check,
    slos: Sequence[SLO],
    source: MetricsSource,
    at: float,
    use_rules: bool | None = None,
    choices: Mapping[str, SourceChoice] | None = None,
) -> CheckResult:
    from ops_toolkit.slo.evaluate import evaluate_auto

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
    mine = {s.key: choices[s.key] for s in chosen if s.key in choices} if choices else None
    if mine is not None and len(mine) < len(chosen):
        mine = None  # not asked for all of them: evaluate_auto asks
    statuses = evaluate_auto(chosen, source, at, keep_going=True, use_rules=use_rules, choices=mine)
    used = tuple(
        SourceUsed(
            s.slo.key,
            s.source,
            (mine or {}).get(s.slo.key, SourceChoice(s.source, s.source_note or "")).reason,
        )
        for s in statuses
    )
    errors = [_named(s.slo.key, s.error or "") for s in statuses if s.status == "error"]
    bad = [f"{s.slo.key} {s.status}" for s in statuses if s.status in check.statuses]
    if errors:
        error = "; ".join(errors)
        return CheckResult(check.name, description, False, None, "", error, None, used, error)
    if bad:
        shown = ", ".join(bad)
        return CheckResult(check.name, description, False, shown, "", shown, None, used)
    worst = ", ".join(f"{s.slo.key} {s.status}" for s in statuses)
    return CheckResult(check.name, description, True, "none", "", f"holds: {worst}", None, used)


def _named(key: str, error: str) -> str:
    """``error`` led by the SLO's key, once (an evaluation's error already names it: before,
    'search/availability: search/availability: query ...')."""
    return error if error.startswith(f"{key}: ") else f"{key}: {error}"
