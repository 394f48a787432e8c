"""Evaluating SLOs against a metrics source: every query of a report at one pinned time.

Plans the count queries of every SLO (its period and each burn-rate window), sends them in
one concurrent batch, and turns the answers into ``SLOStatus`` values with the pure maths of
``budget.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError, MetricsError
from ops_toolkit.metrics.model import MetricsSource, Sample
from ops_toolkit.slo import budget
from ops_toolkit.slo.budget import Counts
from ops_toolkit.slo.correction_rules import ACTIVE, fingerprint
from ops_toolkit.slo.corrections import Interval, clip, intervals
from ops_toolkit.slo.model import SLO, LatencySLI, RawSLI, Window
from ops_toolkit.slo.queries import (
    BATCH_LABEL,
    batch_query,
    bucket_query,
    count_queries,
    promql_range,
)
from ops_toolkit.slo.windows import DISPLAY_WINDOWS, alert_windows, report_windows, windows_of

PERIOD = 0  # key of the SLO's own window among the burn windows


@dataclass(frozen=True)
class CorrectedSpan:
    """A span of the period one correction took out of the counts."""

    start: datetime
    end: datetime
    reason: str


def corrected_spans(slo: SLO, start: float, end: float) -> tuple[CorrectedSpan, ...]:
    """Each correction's spans within ``[start, end]`` (unix seconds), sorted, with reasons.

    Spans of different corrections may overlap here (a listing); the counts use the merged
    ``intervals`` so no event is taken out twice.
    """
    begin, finish = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    return tuple(
        sorted(
            (
                CorrectedSpan(a, b, correction.reason)
                for correction in slo.corrections
                for a, b in intervals([correction], begin, finish)
            ),
            key=lambda span: (span.start, span.end, span.reason),
        )
    )


@dataclass(frozen=True)
class SLOStatus:
    """One SLO's state at ``at``: error ratios per window, and event counts when queried raw."""

    slo: SLO
    at: float
    status: str
    period_ratio: float | None
    window_ratios: dict[int, float | None]
    period: Counts | None = None
    windows: dict[int, Counts | None] = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0  # seconds of a calendar period so far
    # Events the period's corrections took out (None: not counted, e.g. from recorded series),
    # and each correction's spans inside the period, with its reason.
    excluded: Counts | None = None
    corrected: tuple[CorrectedSpan, ...] = ()
    # Where the numbers come from: "queries" (raw counters) or "rules" (recorded series),
    # and why an SLO asked for from rules was answered from queries.
    source: str = "queries"
    source_note: str | None = None

    @property
    def sli(self) -> float | None:
        return None if self.period_ratio is None else 1.0 - self.period_ratio

    @property
    def budget_remaining(self) -> float | None:
        return budget.remaining_from_ratio(self.period_ratio, self.slo.budget)

    @property
    def bad_events_left(self) -> float | None:
        return budget.bad_events_left(self.period, self.slo.budget) if self.period else None

    def burn_rates(self) -> dict[int, float | None]:
        return {
            w: budget.burn_from_ratio(r, self.slo.budget) for w, r in self.window_ratios.items()
        }

    @property
    def projected_remaining(self) -> float | None:
        """Calendar windows: the budget left at the period's end if the 1d burn rate holds."""
        if self.slo.window.rolling or self.period is None:
            return None
        return budget.projected_remaining(
            self.period,
            self.burn_rates().get(86400),
            self.elapsed,
            self.slo.window.period_seconds,
            self.slo.budget,
        )


def from_ratios(
    slo: SLO,
    at: float,
    period_ratio: float | None,
    window_ratios: dict[int, float | None],
    *,
    period: Counts | None = None,
    windows: dict[int, Counts | None] | None = None,
    elapsed: float = 0.0,
    totals: dict[int, float | None] | None = None,
    excluded: Counts | None = None,
    corrected: tuple[CorrectedSpan, ...] = (),
) -> SLOStatus:
    """``totals``: events per window, for ``alerting.min_events``; taken from ``windows``
    when not given (direct queries), read from recorded series with ``--use-rules``."""
    remaining = budget.remaining_from_ratio(period_ratio, slo.budget)
    rates = {w: budget.burn_from_ratio(r, slo.budget) for w, r in window_ratios.items()}
    if totals is None and windows is not None:
        totals = {w: (c.total if c else 0.0) for w, c in windows.items()}
    state = budget.status(
        remaining, rates, alert_windows(slo), totals=totals, min_events=slo.alerting.min_events
    )
    return SLOStatus(
        slo,
        at,
        state,
        period_ratio,
        window_ratios,
        period,
        windows or {},
        None,
        elapsed,
        excluded,
        corrected,
    )


def failed(slo: SLO, at: float, message: str) -> SLOStatus:
    return SLOStatus(slo, at, "error", None, dict.fromkeys(DISPLAY_WINDOWS), error=message)


def period_seconds_at(window: Window, at: float) -> int:
    """The range a window covers at ``at``: fixed when rolling, the period so far otherwise."""
    if window.rolling:
        return window.seconds
    if window.start is not None or window.count != 1 or window.calendar in ("day", "year"):
        return max(60, int(at - window.period_start(at)))
    zone = ZoneInfo(window.timezone)
    now = datetime.fromtimestamp(at, tz=UTC).astimezone(zone)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window.calendar == "week":
        start = datetime.fromordinal(midnight.toordinal() - midnight.weekday()).replace(tzinfo=zone)
    elif window.calendar == "month":
        start = midnight.replace(day=1)
    else:
        start = midnight.replace(day=1, month=(now.month - 1) // 3 * 3 + 1)
    return max(60, int(at - start.timestamp()))


@dataclass(frozen=True)
class _Planned:
    """The counts of one SLO over one window; ``correction``: of one corrected span inside
    that window, to be taken out of the window's counts."""

    index: int
    window: int
    range: str
    counted: str
    counted_query: str
    total_query: str
    correction: bool = False


def _plan(slos: Sequence[SLO], at: float) -> list[_Planned]:
    planned = []
    for index, slo in enumerate(slos):
        windows = {
            window: period_seconds_at(slo.window, at) if window == PERIOD else window
            for window in (PERIOD, *report_windows(slo))
        }
        # One expansion of the corrections for the widest window; each window clips it.
        spans = corrected_intervals(slo, at - max(windows.values()), at)
        for window, seconds in windows.items():
            span = promql_range(seconds)
            counted, counted_query, total_query = count_queries(slo.sli, span)
            planned.append(
                _Planned(
                    index,
                    window,
                    span,
                    counted,
                    total_query=total_query,
                    counted_query=counted_query,
                )
            )
            for length, end in correction_ranges(slo, at - seconds, at, spans):
                counted, counted_query, total_query = pinned_count_queries(slo, length, end)
                planned.append(
                    _Planned(
                        index,
                        window,
                        promql_range(length),
                        counted,
                        counted_query=counted_query,
                        total_query=total_query,
                        correction=True,
                    )
                )
    return planned


def corrected_intervals(slo: SLO, start: float, end: float) -> list[Interval]:
    """The merged UTC spans of the SLO's corrections within ``[start, end]`` (unix seconds)."""
    if not slo.corrections:
        return []
    return intervals(
        slo.corrections, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    )


def correction_ranges(
    slo: SLO, start: float, end: float, spans: list[Interval] | None = None
) -> list[tuple[int, float]]:
    """``(seconds, end)`` of each merged corrected span in ``[start, end]`` (unix seconds);
    ``spans``: the SLO's spans over a wider range, already expanded.

    Lengths are whole seconds, as PromQL ranges are written; a span under a second holds no
    scrape worth taking out.
    """
    if not slo.corrections:
        return []
    begin_at, end_at = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    if spans is None:
        spans = corrected_intervals(slo, start, end)
    ranges = []
    for begin, finish in clip(spans, begin_at, end_at):
        length = round(finish.timestamp() - begin.timestamp())
        if length >= 1:
            ranges.append((length, finish.timestamp()))
    return ranges


def pinned_count_queries(slo: SLO, seconds: int, end: float) -> tuple[str, str, str]:
    """The SLI's count queries over ``seconds`` ending at ``end``, pinned there with ``@``
    (so they answer the same whatever time the report is evaluated at, and are shared by
    every window that holds the whole span)."""
    pin = f"{end:.3f}".rstrip("0").rstrip(".")
    counted, counted_query, total_query = count_queries(slo.sli, promql_range(seconds))
    if isinstance(slo.sli, RawSLI):
        queries = []
        for template in (slo.sli.bad_query, slo.sli.total_query):
            pinned, found = _RAW_RANGE.subn(rf"[{promql_range(seconds)}\1] @ {pin}", template)
            if found != template.count("{{window}}"):
                raise ConfigError(
                    f"{slo.place}.sli.raw: corrections need each {{{{window}}}} inside a range "
                    "like [{{window}}] (to pin it to the corrected span with @)"
                )
            queries.append(f"sum({pinned})")
        return counted, queries[0], queries[1]
    return (
        counted,
        _pin(counted_query, promql_range(seconds), pin),
        _pin(total_query, promql_range(seconds), pin),
    )


_RAW_RANGE = re.compile(r"\[\{\{window\}\}(:[^\]]*)?\]")


def _pin(query: str, span: str, pin: str) -> str:
    """``sum(increase(x[1h]))`` -> ``sum(increase(x[1h] @ 1796000000))`` (the range is the
    last ``[...]``: a label value before it may hold brackets)."""
    head, _, tail = query.rpartition(f"[{span}]")
    return f"{head}[{span}] @ {pin}{tail}"


def evaluate(
    slos: Sequence[SLO], source: MetricsSource, at: float, *, keep_going: bool = False
) -> list[SLOStatus]:
    """The status of every SLO at ``at``; a failed query raises unless ``keep_going``."""
    planned = _plan(slos, at)
    answers = _answers(planned, source, at)
    raw: dict[tuple[int, int], tuple[float, float]] = {}
    taken: dict[tuple[int, int], tuple[float, float]] = {}
    errors: dict[int, str] = {}
    missing_buckets: set[int] = set()
    for number, plan in enumerate(planned):
        counted_answer, total_answer = answers[2 * number], answers[2 * number + 1]
        for query, answer in (
            (plan.counted_query, counted_answer),
            (plan.total_query, total_answer),
        ):
            if isinstance(answer, Exception) and plan.index not in errors:
                message = f"{slos[plan.index].key}: query {query!r} failed: {answer}"
                if not keep_going:
                    raise MetricsError(message)
                errors[plan.index] = message
        if isinstance(counted_answer, Exception) or isinstance(total_answer, Exception):
            continue
        total = _sum(total_answer)
        counted = _sum(counted_answer)
        if plan.correction:
            before = taken.get((plan.index, plan.window), (0.0, 0.0))
            taken[(plan.index, plan.window)] = (before[0] + counted, before[1] + total)
            continue
        if total > 0 and not counted_answer and plan.counted == "good":
            missing_buckets.add(plan.index)
        raw[(plan.index, plan.window)] = (counted, total)
    counts: dict[int, dict[int, Counts | None]] = {i: {} for i in range(len(slos))}
    excluded: dict[int, Counts] = {}
    for (index, window), (counted, total) in raw.items():
        kind = counted_kind(slos[index])
        out_counted, out_total = taken.get((index, window), (0.0, 0.0))
        if window == PERIOD and (index, window) in taken:
            excluded[index] = _counts(kind, out_counted, out_total) or Counts(0.0, 0.0)
        counts[index][window] = _counts(
            kind, max(0.0, counted - out_counted), max(0.0, total - out_total)
        )
    for index in sorted(missing_buckets):
        slo = slos[index]
        if isinstance(slo.sli, LatencySLI) and index not in errors:
            message = _missing_bucket(slo, slo.sli, source, at)
            if not keep_going:
                raise ConfigError(message)
            errors[index] = message
    results = []
    for index, slo in enumerate(slos):
        if index in errors:
            results.append(failed(slo, at, errors[index]))
            continue
        windows = {w: counts[index].get(w) for w in report_windows(slo)}
        period = counts[index].get(PERIOD)
        elapsed = period_seconds_at(slo.window, at)
        results.append(
            from_ratios(
                slo,
                at,
                budget.error_rate(period) if period else None,
                {w: (budget.error_rate(c) if c else None) for w, c in windows.items()},
                period=period,
                windows=windows,
                elapsed=float(elapsed),
                excluded=excluded.get(index),
                corrected=corrected_spans(slo, at - elapsed, at),
            )
        )
    return results


def counted_kind(slo: SLO) -> str:
    """Whether the SLI's counted query counts bad or good events."""
    return count_queries(slo.sli, "1m")[0]


def _counts(kind: str, counted: float, total: float) -> Counts | None:
    """Counts from a counted (bad or good) and a total number of events; None when empty."""
    if total <= 0:
        return None
    bad = counted if kind == "bad" else max(0.0, total - counted)
    return Counts(bad=min(bad, total), total=total)


BATCH_SIZE = 16


@dataclass(frozen=True)
class PlannedQuery:
    """One query a report sends, and every (SLO key, window, counted|total) it answers."""

    query: str
    range: str
    serves: tuple[tuple[str, int, str], ...]


def query_plan(slos: Sequence[SLO], at: float) -> list[PlannedQuery]:
    """The distinct queries a report of ``slos`` at ``at`` sends, in first-use order.

    SLOs over the same selectors (one service's objectives of 99, 99.5, 99.9...) share
    their queries: each distinct (query, range, time) is asked once, whatever number of
    SLOs and windows it serves.
    """
    serves: dict[str, list[tuple[str, int, str]]] = {}
    ranges: dict[str, str] = {}
    for plan in _plan(slos, at):
        key = slos[plan.index].key
        for part, query in (("counted", plan.counted_query), ("total", plan.total_query)):
            part = f"{part} corrected out" if plan.correction else part
            serves.setdefault(query, []).append((key, plan.window, part))
            ranges[query] = plan.range
    return [PlannedQuery(query, ranges[query], tuple(used)) for query, used in serves.items()]


def _answers(
    planned: list[_Planned], source: MetricsSource, at: float
) -> list[list[Sample] | Exception]:
    """Answers to each plan's (counted, total) queries, flattened in plan order.

    Each distinct query is sent once and its answer shared: 8 objectives over one service's
    selectors need the queries of one. Queries over the same range are batched, 16 to a
    request: a request's cost at the client is mostly fixed, while Prometheus opens its
    series over the widest range of a query, so mixing a 30d and a 5m range in one request
    would make the 5m one costly. When a batch fails, its queries are sent one by one so
    the error names the query.
    """
    queries = [q for p in planned for q in (p.counted_query, p.total_query)]
    distinct: dict[str, int] = {}
    position = [distinct.setdefault(query, len(distinct)) for query in queries]
    unique = list(distinct)
    by_range: dict[str, list[int]] = {}
    seen: set[int] = set()
    for number, plan in enumerate(planned):
        for index in (position[2 * number], position[2 * number + 1]):
            if index not in seen:
                seen.add(index)
                by_range.setdefault(plan.range, []).append(index)
    groups = [
        indices[i : i + BATCH_SIZE]
        for indices in by_range.values()
        for i in range(0, len(indices), BATCH_SIZE)
    ]
    batched = source.query_many([batch_query([unique[i] for i in g]) for g in groups], at)
    answered: list[list[Sample] | Exception] = [[] for _ in unique]
    for group, answer in zip(groups, batched, strict=True):
        if isinstance(answer, Exception):
            singles = source.query_many([unique[i] for i in group], at)
            for index, single in zip(group, singles, strict=True):
                answered[index] = single
            continue
        found: dict[int, list[Sample]] = {index: [] for index in group}
        for sample in answer:
            tag = sample.labels.get(BATCH_LABEL, "")
            if tag.isdigit() and int(tag) < len(group):
                labels = {k: v for k, v in sample.labels.items() if k != BATCH_LABEL}
                found[group[int(tag)]].append(Sample(labels, sample.value))
        for index, samples in found.items():
            answered[index] = samples
    return [answered[index] for index in position]


def _sum(samples: list[Sample] | Exception) -> float:
    if isinstance(samples, Exception):
        return 0.0
    return sum(s.value for s in samples if not math.isnan(s.value))


def _missing_bucket(slo: SLO, sli: LatencySLI, source: MetricsSource, at: float) -> str:
    try:
        buckets = sorted(
            {s.labels.get("le", "") for s in source.query(bucket_query(sli), at)}, key=_bound
        )
    except MetricsError:
        buckets = []
    listed = ", ".join(buckets) if buckets else "none found"
    return (
        f"{slo.place}.sli.latency.below: histogram {sli.histogram}{sli.selector} has no bucket "
        f"{bucket_names(sli)}; its buckets are: {listed}"
    )


def bucket_names(sli: LatencySLI) -> str:
    """``le="1.5"``, or ``le="1" or le="1.0"`` for a whole bound."""
    return " or ".join(f'le="{le}"' for le in sli.le_spellings)


def _bound(le: str) -> float:
    try:
        return float(le)
    except ValueError:
        return math.inf


def evaluate_recorded(
    slos: Sequence[SLO], source: MetricsSource, at: float, *, keep_going: bool = False
) -> list[SLOStatus]:
    """Statuses from the series ``ops slo rules`` records: one query per window for all SLOs.

    Calendar SLOs still get their period so far from raw counters (rules record the nominal
    rolling length), so only they add queries.
    """
    names = {w: f"slo:error_ratio:{format_duration(w)}" for w in windows_of(slos)}
    names[PERIOD] = "slo:error_ratio:period"
    windows = list(names)
    counted = sorted(
        {p.long for s in slos if s.alerting.min_events for p in alert_windows(s)}
    )  # slo:total_events:<w> is recorded for the long windows of SLOs with min_events
    total_names = [f"slo:total_events:{format_duration(w)}" for w in counted]
    answers = source.query_many([*(names[w] for w in windows), *total_names], at)
    ratios: dict[tuple[str, str], dict[int, float]] = {}
    totals: dict[tuple[str, str], dict[int, float | None]] = {}
    for number, answer in enumerate(answers):
        name = (
            names[windows[number]] if number < len(windows) else total_names[number - len(windows)]
        )
        if isinstance(answer, Exception):
            raise MetricsError(f"query {name!r} failed: {answer}")
        for sample in answer:
            key = (sample.labels.get("service", ""), sample.labels.get("slo", ""))
            if number < len(windows):
                ratios.setdefault(key, {})[windows[number]] = sample.value
            else:
                totals.setdefault(key, {})[counted[number - len(windows)]] = sample.value
    if not ratios and slos:
        raise MetricsError(
            "Prometheus has no slo:error_ratio series: load the rule files from 'ops slo rules' "
            "into it, or report without --use-rules"
        )
    fallbacks = {s.key: CALENDAR_NOTE for s in slos if not s.window.rolling}
    fallbacks |= rules_fallbacks([s for s in slos if s.window.rolling], source, at)
    queried = [s for s in slos if s.key in fallbacks]
    direct = {
        s.key: replace(st, source_note=fallbacks[s.key])
        for s, st in zip(queried, evaluate(queried, source, at, keep_going=keep_going), strict=True)
    }
    results = []
    for slo in slos:
        if slo.key in direct:
            results.append(direct[slo.key])
            continue
        recorded = ratios.get((slo.service, slo.name), {})
        status = from_ratios(
            slo,
            at,
            _ratio(recorded.get(PERIOD)),
            {w: _ratio(recorded.get(w)) for w in report_windows(slo)},
            totals=totals.get((slo.service, slo.name), {}),
        )
        results.append(replace(status, source="rules"))
    return results


CALENDAR_NOTE = "a calendar period: its period so far is queried (the rules record a fixed length)"
# How late the rules that know a correction may be seen after it began: the step of the
# query that finds when they were loaded, and an evaluation interval.
LOADED_SLACK = 600
_STEP = 300


@dataclass(frozen=True)
class _Known:
    """One ``slo:correction:active`` series seen in the period: what it knew, since when."""

    fingerprints: frozenset[str]
    since: float
    horizon_end: float | None
    was_active: bool


def rules_fallbacks(slos: Sequence[SLO], source: MetricsSource, at: float) -> dict[str, str]:
    """SLO key -> why its recorded series are wrong for its period at ``at``.

    Recorded series cannot change the past: a 5m count recorded before the rules knew a
    correction holds its events. So an SLO is answered from direct queries while a
    correction of its file that overlaps its period was unknown to the rules loaded then
    (added later, or loaded after it began, or beyond their horizon), or while the rules
    applied one its file no longer has. What they knew is read from the labels of
    ``slo:correction:active`` over the period (two queries, whatever the number of SLOs).
    """
    if not slos:
        return {}
    span = max(s.window.period_seconds for s in slos) + 3600
    rng = format_duration(span)
    first_seen = f"min_over_time(timestamp({ACTIVE})[{rng}:{format_duration(_STEP)}])"
    answers = source.query_many([first_seen, f"max_over_time({ACTIVE}[{rng}])"], at)
    for query, answer in zip((first_seen, ACTIVE), answers, strict=True):
        if isinstance(answer, Exception):
            raise MetricsError(f"query {query!r} failed: {answer}")
    seen, active = answers
    assert not isinstance(seen, Exception) and not isinstance(active, Exception)
    was_active = {_identity(sample.labels): sample.value > 0 for sample in active}
    known: dict[tuple[str, str], list[_Known]] = {}
    for sample in seen:
        labels = sample.labels
        end = labels.get("horizon_end")
        known.setdefault((labels.get("service", ""), labels.get("slo", "")), []).append(
            _Known(
                frozenset(labels.get("corrections", "").split()),
                sample.value,
                _timestamp(end) if end else None,
                was_active.get(_identity(labels), True),
            )
        )
    found = {}
    for slo in slos:
        reason = _fallback(slo, known.get((slo.service, slo.name), []), at)
        if reason is not None:
            found[slo.key] = reason
    return found


def _identity(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _fallback(slo: SLO, known: Sequence[_Known], at: float) -> str | None:
    """Why ``slo``'s recorded series miss a correction in its period, or None."""
    start = at - slo.window.period_seconds
    begin, end = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(at, UTC)
    ours = {fingerprint(c) for c in slo.corrections}
    for correction in slo.corrections:
        spans = intervals([correction], begin, end)
        if not spans:
            continue
        mark = fingerprint(correction)
        knowing = [k for k in known if mark in k.fingerprints]
        where = f"{correction.place} ({correction.describe()})"
        if not knowing:
            return f"the loaded rules do not know the correction at {where}"
        since = min(k.since for k in knowing)
        overlap = spans[0][0].timestamp()
        if since > overlap + LOADED_SLACK:
            return (
                f"the rules that know the correction at {where} were loaded at "
                f"{_iso(since)}, after it began ({_iso(overlap)})"
            )
        horizons = [k.horizon_end for k in knowing if k.horizon_end is not None]
        if correction.recurring and horizons and spans[-1][0].timestamp() >= max(horizons):
            return (
                f"the loaded rules expand the correction at {where} only until "
                f"{_iso(max(horizons))} (regenerate them: 'ops slo rules')"
            )
    for k in known:
        if k.was_active and k.fingerprints - ours:
            return "the loaded rules applied a correction its SLO file no longer has"
    return None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ratio(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value
