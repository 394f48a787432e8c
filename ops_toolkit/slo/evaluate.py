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
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError, MetricsError, SelectorError
from ops_toolkit.metrics.model import MetricsSource, Sample, escape_promql_string
from ops_toolkit.slo import budget
from ops_toolkit.slo.budget import Counts
from ops_toolkit.slo.corrections import Interval, clip, intervals
from ops_toolkit.slo.model import SLO, LatencySLI, RawSLI, Window
from ops_toolkit.slo.queries import (
    BATCH_LABEL,
    batch_query,
    bucket_query,
    count_queries,
    promql_range,
)
from ops_toolkit.slo.selector import (
    METRIC_NAME,
    Matcher,
    parse,
    quote,
    regex_compiles,
    render_matcher,
)
from ops_toolkit.slo.windows import DISPLAY_WINDOWS, alert_windows, report_windows, windows_of

PERIOD = 0  # key of the SLO's own window among the burn windows
DIRECT, RECORDED = "queries", "rules"  # where an SLOStatus's numbers come from


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


class _Planned(NamedTuple):
    """The counts of one SLO (``slo``: its number) over one window; ``correction``: of one
    corrected span inside that window, to be taken out of the window's counts.

    This module's private records are NamedTuples, not frozen dataclasses: a report imports
    this module at every start, and a frozen dataclass costs ~0.3 ms to create (issue 15)."""

    slo: int
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
            if isinstance(answer, Exception) and plan.slo not in errors:
                message = f"{slos[plan.slo].key}: query {query!r} failed: {answer}"
                if not keep_going:
                    raise MetricsError(message)
                errors[plan.slo] = message
        if isinstance(counted_answer, Exception) or isinstance(total_answer, Exception):
            continue
        total = _sum(total_answer)
        counted = _sum(counted_answer)
        if plan.correction:
            before = taken.get((plan.slo, plan.window), (0.0, 0.0))
            taken[(plan.slo, plan.window)] = (before[0] + counted, before[1] + total)
            continue
        if total > 0 and not counted_answer and plan.counted == "good":
            missing_buckets.add(plan.slo)
        raw[(plan.slo, plan.window)] = (counted, total)
    counts: dict[int, dict[int, Counts | None]] = {i: {} for i in range(len(slos))}
    excluded: dict[int, Counts] = {}
    kinds = [counted_kind(slo) for slo in slos]  # once per SLO, not per window
    for (index, window), (counted, total) in raw.items():
        kind = kinds[index]
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
MAX_GROUP = 64  # label values in one grouped query's regex


@dataclass(frozen=True)
class PlannedQuery:
    """One query a report sends, and every (SLO key, window, counted|total) it answers."""

    query: str
    range: str
    serves: tuple[tuple[str, int, str], ...]


class _Asked(NamedTuple):
    """Where the answer to one distinct count query comes from: query ``sent`` of the
    plan, all of it, or (grouped) its samples whose ``label`` is ``value``; of a merged
    query, the series it marked as counted (``marked`` True), those it did not (False), or
    both (None: the total)."""

    sent: int
    label: str | None = None
    value: str = ""
    marked: bool | None = None


_COUNT = re.compile(r"sum\(increase\((?P<selector>.*)\[(?P<range>[0-9a-z]+)\]\)\)", re.DOTALL)
COUNTED_LABEL = "ops_counted"  # what a merged query marks the counted selector's series with


class _Selector(NamedTuple):
    """A count query's parts: ``sum(increase(metric{matchers}[range]))``; ``metric`` is
    None when the selector names it in a ``__name__`` matcher."""

    metric: str | None
    range: str
    matchers: tuple[Matcher, ...]


class _Unit(NamedTuple):
    """What one query answers before grouping: a count query alone, or a total and a counted
    query merged (``marker``: the matcher the counted selector adds to the total's);
    ``members``: (distinct query number, which part of the answer is its)."""

    members: tuple[tuple[int, bool | None], ...]
    written: str
    selector: _Selector | None
    marker: Matcher | None = None


def _selector(query: str) -> _Selector | None:
    """The parts of ``sum(increase(<selector>[range]))``; None for any other query (a raw
    SLI's), which is asked alone, as written."""
    match = _COUNT.fullmatch(query)
    if match is None:
        return None
    try:
        selector = parse(match.group("selector"))
    except SelectorError:
        return None
    return _Selector(selector.name, match.group("range"), selector.matchers)


def _units(queries: list[str]) -> list[_Unit]:
    """Each count query alone, except a total and a counted query whose selector adds one
    matcher to the total's (``code!~"5.."`` to ``{service="x"}``): those become one query
    that reads the series once and marks the counted ones with ``label_replace``, whose
    anchored RE2 regex is the matcher's own. On the bench's 30 days, the 30d pair took
    Prometheus 8.7 ms of CPU merged against 13 ms asked apart (issue 15)."""
    selectors = [_selector(query) for query in queries]
    totals: dict[tuple[str | None, str, frozenset[Matcher]], int] = {}
    for number, selector in enumerate(selectors):
        if selector is not None:
            totals.setdefault(
                (selector.metric, selector.range, frozenset(selector.matchers)), number
            )
    paired: dict[int, tuple[int, Matcher]] = {}
    taken: set[int] = set()
    for number, selector in enumerate(selectors):
        if selector is None or number in taken:
            continue
        for position, marker in enumerate(selector.matchers):
            rest = selector.matchers[:position] + selector.matchers[position + 1 :]
            if marker.label == METRIC_NAME or any(m.label == marker.label for m in rest):
                continue  # increase() drops __name__: label_replace could not read it
            if "~" in marker.op and not regex_compiles(marker.value):
                continue  # asked as written, Prometheus's error names the user's matcher
            total = totals.get((selector.metric, selector.range, frozenset(rest)))
            if total is not None and total != number and total not in taken:
                paired[number] = (total, marker)
                taken |= {number, total}
                break
    units = []
    for number, query in enumerate(queries):
        if number in paired:
            total, marker = paired[number]
            counted_marked = marker[1] in ("=", "=~")
            members = ((total, None), (number, counted_marked))
            units.append(_Unit(members, query, selectors[total], marker))
        elif number not in taken:
            units.append(_Unit(((number, None),), query, selectors[number]))
    return units


def _text(
    selector: _Selector, matchers: Sequence[str], by: Sequence[str], marker: Matcher | None
) -> str:
    """``sum by (by) (increase(metric{matchers}[range]))``, the counted series marked."""
    braces = f"{{{','.join(matchers)}}}" if matchers else ""
    series = f"increase({selector.metric or ''}{braces}[{selector.range}])"
    if marker is not None:
        label, op, value = marker
        regex = value if op in ("=~", "!~") else _regex_literal(value)
        series = (
            f"label_replace({series}, {quote(COUNTED_LABEL)}, {quote('1')}, "
            f"{quote(label)}, {quote(regex)})"
        )
        by = (*by, COUNTED_LABEL)
    return f"sum by ({', '.join(by)}) ({series})" if by else f"sum({series})"


def _regex_literal(value: str) -> str:
    """An RE2 regex matching ``value`` literally (as Go's regexp.QuoteMeta writes it)."""
    return "".join(f"\\{char}" if char in r".^$*+?()[]{}|\\" else char for char in value)


def _physical(queries: list[str]) -> tuple[list[str], list[_Asked]]:
    """The queries to send for the distinct count ``queries``, and where each one's answer is.

    A total and its counted query over the same series are merged (``_units``). Then
    queries over one metric and range whose selectors differ only in one label's value (8
    services' availability) become one ``sum by (label)`` query with the values as an
    anchored alternation: on the bench's 30 days of data, one such 30d query over 8
    services took Prometheus 96 ms against 8 x 22 ms asked one by one (issue 15). Groups
    are chosen largest first; a query that fits none is sent as written.
    """
    units = _units(queries)
    # (metric, range, label, the other matchers, marker) -> (unit, its value of label)
    candidates: dict[
        tuple[str | None, str, str, tuple[str, ...], Matcher | None], list[tuple[int, str]]
    ]
    candidates = {}
    for number, unit in enumerate(units):
        if unit.selector is None:
            continue
        own = unit.selector.matchers
        for position, (label, op, value) in enumerate(own):
            if op != "=" or not value or any(m[0] == label for m in own[position + 1 :]):
                continue
            if label == METRIC_NAME:  # increase() drops it: a sum by (__name__) is one group
                continue
            others = tuple(render_matcher(m) for m in own if m[0] != label)
            key = (unit.selector.metric, unit.selector.range, label, others, unit.marker)
            candidates.setdefault(key, []).append((number, value))
    placed: dict[int, tuple[int, str | None, str]] = {}
    sent: list[str] = []
    for key in sorted(candidates, key=lambda k: -len(candidates[k])):
        members = [(n, v) for n, v in candidates[key] if n not in placed]
        while len(members) >= 2:
            chunk, members = members[:MAX_GROUP], members[MAX_GROUP:]
            _, _, label, others, marker = key
            selector = units[chunk[0][0]].selector
            assert selector is not None
            values = list(dict.fromkeys(v for _, v in chunk))
            alternatives = "|".join(_regex_literal(value) for value in values)
            for number, value in chunk:
                placed[number] = (len(sent), label, value)
            grouped = render_matcher(Matcher(label, "=~", alternatives))
            sent.append(_text(selector, (*others, grouped), (label,), marker))
    for number, unit in enumerate(units):
        if number not in placed:
            placed[number] = (len(sent), None, "")
            if unit.marker is None or unit.selector is None:
                sent.append(unit.written)
            else:
                written = [render_matcher(m) for m in unit.selector.matchers]
                sent.append(_text(unit.selector, written, (), unit.marker))
    asked: list[_Asked | None] = [None] * len(queries)
    for number, unit in enumerate(units):
        index, grouped_by, value = placed[number]
        for query, marked in unit.members:
            asked[query] = _Asked(index, grouped_by, value, marked)
    return sent, [where for where in asked if where is not None]


def query_plan(slos: Sequence[SLO], at: float) -> list[PlannedQuery]:
    """The queries a report of ``slos`` at ``at`` sends, in first-use order.

    SLOs over the same selectors (one service's objectives of 99, 99.5, 99.9...) share
    their queries: each distinct (query, range, time) is asked once, whatever number of
    SLOs and windows it serves; selectors that differ in one label's value share one
    grouped ``sum by (label)`` query.
    """
    serves: dict[str, list[tuple[str, int, str]]] = {}
    ranges: dict[str, str] = {}
    for plan in _plan(slos, at):
        key = slos[plan.slo].key
        for part, query in (("counted", plan.counted_query), ("total", plan.total_query)):
            part = f"{part} corrected out" if plan.correction else part
            serves.setdefault(query, []).append((key, plan.window, part))
            ranges[query] = plan.range
    distinct = list(serves)
    sent, asked = _physical(distinct)
    grouped: list[list[tuple[str, int, str]]] = [[] for _ in sent]
    spans = [""] * len(sent)
    for query, where in zip(distinct, asked, strict=True):
        grouped[where.sent] += serves[query]
        spans[where.sent] = ranges[query]
    return [
        PlannedQuery(query, span, tuple(used))
        for query, span, used in zip(sent, spans, grouped, strict=True)
    ]


def _answers(
    planned: list[_Planned], source: MetricsSource, at: float
) -> list[list[Sample] | Exception]:
    """Answers to each plan's (counted, total) queries, flattened in plan order.

    Each distinct query is sent once and its answer shared: 8 objectives over one service's
    selectors need the queries of one; 8 services' selectors that differ only in the
    service's name share one grouped query. Queries over the same range are batched, 16 to
    a request: a request's cost at the client is mostly fixed, while Prometheus opens its
    series over the widest range of a query, so mixing a 30d and a 5m range in one request
    would make the 5m one costly. When a batch fails, its queries are sent one by one so
    the error names the query.
    """
    queries = [q for p in planned for q in (p.counted_query, p.total_query)]
    ranges = [p.range for p in planned for _ in (0, 1)]
    distinct: dict[str, int] = {}
    position = [distinct.setdefault(query, len(distinct)) for query in queries]
    unique = list(distinct)
    sent, asked = _physical(unique)
    span_of = {asked[position[n]].sent: ranges[n] for n in range(len(queries))}
    by_range: dict[str, list[int]] = {}
    for index in sorted(span_of):
        by_range.setdefault(span_of[index], []).append(index)
    groups = [
        indices[i : i + BATCH_SIZE]
        for indices in by_range.values()
        for i in range(0, len(indices), BATCH_SIZE)
    ]
    batched = source.query_many([batch_query([sent[i] for i in g]) for g in groups], at)
    answered: list[list[Sample] | Exception] = [[] for _ in sent]
    for group, answer in zip(groups, batched, strict=True):
        if isinstance(answer, Exception):
            singles = source.query_many([sent[i] for i in group], at)
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
    per_query = [_part(answered[where.sent], where) for where in asked]
    return [per_query[index] for index in position]


def _part(answer: list[Sample] | Exception, where: _Asked) -> list[Sample] | Exception:
    """The samples of a (possibly grouped or merged) answer that answer one count query."""
    if isinstance(answer, Exception) or (where.label is None and where.marked is None):
        return answer
    return [
        Sample({}, sample.value)
        for sample in answer
        if (where.label is None or sample.labels.get(where.label) == where.value)
        and (where.marked is None or (sample.labels.get(COUNTED_LABEL) == "1") == where.marked)
    ]


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
    """Statuses from the series ``ops slo rules`` records: one query per window for all SLOs
    (``--use-rules``).

    Calendar SLOs still get their period so far from raw counters (rules record the nominal
    rolling length), and so does an SLO whose period a correction overlaps that the loaded
    rules miss: only they add queries.
    """
    return evaluate_auto(slos, source, at, keep_going=keep_going, use_rules=True)


def _recorded_plan(slos: Sequence[SLO]) -> tuple[dict[int, str], list[int], list[str]]:
    """The recorded series a report of rolling ``slos`` reads: error ratios by window (one
    query each, for all SLOs), and the long windows whose event totals it reads with them."""
    names = {w: f"slo:error_ratio:{format_duration(w)}" for w in windows_of(slos)}
    names[PERIOD] = "slo:error_ratio:period"
    counted = sorted(
        {p.long for s in slos if s.alerting.min_events for p in alert_windows(s)}
    )  # slo:total_events:<w> is recorded for the long windows of SLOs with min_events
    return names, counted, [f"slo:total_events:{format_duration(w)}" for w in counted]


def recorded_queries(slos: Sequence[SLO]) -> list[str]:
    """The queries (series names) a report sends for the SLOs that read recorded series."""
    if not slos:
        return []
    names, _, total_names = _recorded_plan(slos)
    return [names[PERIOD], *(n for w, n in names.items() if w != PERIOD), *total_names]


def _from_recorded(
    slos: Sequence[SLO], source: MetricsSource, at: float, *, required: bool
) -> list[SLOStatus]:
    """Statuses of rolling SLOs read from their recorded series; ``required`` (``--use-rules``):
    no ``slo:error_ratio`` series at all is an error saying what to do."""
    names, counted, total_names = _recorded_plan(slos)
    windows = list(names)
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
    if required and not ratios and slos:
        raise MetricsError(
            "Prometheus has no slo:error_ratio series: load the rule files from 'ops slo rules' "
            "into it, or report without --use-rules"
        )
    results = []
    for slo in slos:
        recorded = ratios.get((slo.service, slo.name), {})
        status = from_ratios(
            slo,
            at,
            _ratio(recorded.get(PERIOD)),
            {w: _ratio(recorded.get(w)) for w in report_windows(slo)},
            totals=totals.get((slo.service, slo.name), {}),
        )
        results.append(replace(status, source=RECORDED))
    return results


CALENDAR_NOTE = "a calendar period: its period so far is queried (the rules record a fixed length)"
# How late the rules that know a correction may be seen after it began: the step of the
# query that finds when they were loaded, and an evaluation interval.
LOADED_SLACK = 600
_STEP = 300


class _Known(NamedTuple):
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
    from ops_toolkit.slo.correction_rules import ACTIVE  # with hashlib: rules reports only

    span = max(s.window.period_seconds for s in slos) + 3600
    rng = format_duration(span)
    in_period = f"max_over_time({ACTIVE}[{rng}])"
    first_seen = f"min_over_time(timestamp({ACTIVE})[{rng}:{format_duration(_STEP)}])"
    # The subquery costs an evaluation per 5m of the period: asked only when a correction
    # overlaps an SLO's period (a 30d one took over 10 s on a busy machine).
    overlapping = any(_overlaps(slo, at) for slo in slos)
    queries = [in_period, first_seen] if overlapping else [in_period]
    answers = source.query_many(queries, at)
    for query, answer in zip(queries, answers, strict=True):
        if isinstance(answer, Exception):
            raise MetricsError(f"query {query!r} failed: {answer}")
    active = answers[0]
    seen = answers[1] if overlapping else []
    assert not isinstance(active, Exception) and not isinstance(seen, Exception)
    since = {_identity(sample.labels): sample.value for sample in seen}
    known: dict[tuple[str, str], list[_Known]] = {}
    for sample in active:
        labels = sample.labels
        end = labels.get("horizon_end")
        known.setdefault((labels.get("service", ""), labels.get("slo", "")), []).append(
            _Known(
                frozenset(labels.get("corrections", "").split()),
                since.get(_identity(labels), math.inf),
                _timestamp(end) if end else None,
                sample.value > 0,
            )
        )
    found = {}
    for slo in slos:
        reason = _fallback(slo, known.get((slo.service, slo.name), []), at)
        if reason is not None:
            found[slo.key] = reason
    return found


def _overlaps(slo: SLO, at: float) -> bool:
    begin = datetime.fromtimestamp(at - slo.window.period_seconds, UTC)
    return bool(slo.corrections) and bool(
        intervals(slo.corrections, begin, datetime.fromtimestamp(at, UTC))
    )


def _identity(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _fallback(slo: SLO, known: Sequence[_Known], at: float) -> str | None:
    """Why ``slo``'s recorded series miss a correction in its period, or None."""
    from ops_toolkit.slo.correction_rules import fingerprint

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


def recorded_names(slo: SLO) -> list[str]:
    """The recorded series a rolling SLO's report reads (``ops slo rules`` writes them)."""
    from ops_toolkit.durations import format_duration

    names = ["slo:error_ratio:period"]
    names += [f"slo:error_ratio:{format_duration(w)}" for w in report_windows(slo)]
    if slo.alerting.min_events:
        names += [f"slo:total_events:{format_duration(p.long)}" for p in alert_windows(slo)]
    return names


RECORDED_SELECTOR = '__name__=~"slo:(error_ratio|total_events):.+"'
PRESENT_QUERY = f"group by (__name__, service, slo) ({{{RECORDED_SELECTOR}}})"


def _scope(slos: Sequence[SLO]) -> str:
    """Matchers that narrow the recorded series asked about to ``slos``' service (and SLO,
    when there is one): an alert's budget lookup need not list a whole fleet's series."""
    services = {slo.service for slo in slos}
    if len(services) != 1:
        return ""
    (service,) = services
    scope = f',service="{escape_promql_string(service)}"'
    if len(slos) == 1:
        scope += f',slo="{escape_promql_string(slos[0].name)}"'
    return scope


def recorded_series(
    source: MetricsSource, at: float, slos: Sequence[SLO] = ()
) -> set[tuple[str, str, str]]:
    """(name, service, slo) of every recorded SLO series fresh at ``at``: one query.

    Fresh as Prometheus means it for an instant query: a sample in the 5 minutes before
    ``at`` and no staleness marker since (a rule removed or failing stops being fresh).
    ``slos``: narrow the question to theirs when they are one service's.
    """
    query = f"group by (__name__, service, slo) ({{{RECORDED_SELECTOR}{_scope(slos)}}})"
    return {
        (s.labels.get("__name__", ""), s.labels.get("service", ""), s.labels.get("slo", ""))
        for s in source.query(query, at)
    }


STALE_LOOKBACK = 86400  # how far back --explain looks for the last sample of a stale series
_STALE_STEP = 60
_RECORDED_LABEL = "__ops_recorded"


def last_samples(
    source: MetricsSource, at: float, names: Sequence[str], slos: Sequence[SLO] = ()
) -> dict[tuple[str, str, str], float]:
    """(name, service, slo) -> time of its last sample in the day before ``at``, for the
    recorded series ``names``: one query (``--explain`` says how stale a series is).

    ``timestamp()`` of a plain selector gives a sample's own time; a subquery at one
    evaluation a minute carries it over the day, so the answer is at most a minute early
    when a staleness marker followed the last sample. Each name is asked on its own (tagged
    with a label) because ``timestamp()`` drops the name that tells the windows apart.
    """
    if not names:
        return {}
    span = f"[{format_duration(STALE_LOOKBACK)}:{format_duration(_STALE_STEP)}]"
    scope = _scope(slos)
    parts = [
        f"label_replace(max by (service, slo) (max_over_time(timestamp({name}{{{scope[1:]}}})"
        f'{span})), "{_RECORDED_LABEL}", "{name}", "", "")'
        for name in names
    ]
    found: dict[tuple[str, str, str], float] = {}
    for sample in source.query(" or ".join(parts), at):
        labels = sample.labels
        key = (labels.get(_RECORDED_LABEL, ""), labels.get("service", ""), labels.get("slo", ""))
        found[key] = sample.value
    return found


@dataclass(frozen=True)
class SourceChoice:
    """Where one SLO's report comes from, and why (``ops slo report --explain`` says it).

    ``note``: why an SLO that would read recorded series is queried directly (a correction
    the rules miss, a calendar period under ``--use-rules``); the report shows it.
    """

    source: str
    reason: str
    note: str | None = None


FRESH = "recorded series present and fresh"
FORCED_DIRECT = "--direct: direct queries for every SLO"
FORCED_RECORDED = "--use-rules: recorded series for every rolling SLO"
CALENDAR_REASON = "a calendar period: the rules record rolling windows"
NOT_LOADED = "no recorded series: load the rules 'ops slo rules' writes into Prometheus"


def choose_source(
    slo: SLO,
    present: set[tuple[str, str, str]],
    last_seen: Mapping[tuple[str, str, str], float] | None = None,
    at: float | None = None,
) -> SourceChoice:
    """Where an SLO's report comes from, and why: the one place that decides.

    Recorded series when every one the SLO reads exists and is fresh (a team that deployed
    the rules gets the cheap path without a flag); direct queries otherwise, and always for
    a calendar SLO (the rules record rolling windows). ``last_seen`` (when each series not
    fresh at ``at`` last had a sample) tells a stale series from a missing one.
    """
    if not slo.window.rolling:
        return SourceChoice(DIRECT, CALENDAR_REASON)
    wanted = recorded_names(slo)
    absent = [n for n in wanted if (n, slo.service, slo.name) not in present]
    if not absent:
        return SourceChoice(RECORDED, FRESH)
    seen = last_seen or {}
    stale = {
        n: seen[(n, slo.service, slo.name)] for n in absent if (n, slo.service, slo.name) in seen
    }
    missing = [n for n in absent if n not in stale]
    reasons = []
    if stale and at is not None:
        minutes = round((at - min(stale.values())) / 60)
        which = "recorded series" if not missing and len(stale) == len(wanted) else _names(stale)
        reasons.append(f"{which} stale by {minutes} minute{'s' if minutes != 1 else ''}")
    if len(missing) == len(wanted):
        reasons.append(NOT_LOADED)
    elif missing:
        reasons.append(f"recorded series missing: {_names(missing)}")
    return SourceChoice(DIRECT, "; ".join(reasons))


def _names(names: Sequence[str] | Mapping[str, float]) -> str:
    listed = list(names)
    shown = ", ".join(listed[:3])
    return shown + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


NO_PROMETHEUS = "no Prometheus given to ask which recorded series exist (--prometheus)"


def source_choices(
    slos: Sequence[SLO],
    source: MetricsSource | None,
    at: float,
    *,
    use_rules: bool | None = None,
    explain: bool = False,
) -> dict[str, SourceChoice]:
    """SLO key -> where its report at ``at`` comes from and why.

    ``use_rules`` True or False forces one source (``--use-rules``, ``--direct``); by
    default recorded series where they are present and fresh (one query). Either way an
    SLO that would read recorded series is queried directly while a correction overlaps its
    period that the loaded rules miss. ``explain``: also find how stale a series that is not
    fresh is (one more query, only then). ``source`` None (``--explain`` with no Prometheus):
    what can be said without asking.
    """
    if use_rules is False:
        return {slo.key: SourceChoice(DIRECT, FORCED_DIRECT) for slo in slos}
    if source is None and not use_rules:
        return {slo.key: SourceChoice(DIRECT, NO_PROMETHEUS) for slo in slos}
    chosen: dict[str, SourceChoice] = {}
    if use_rules:
        for slo in slos:
            chosen[slo.key] = (
                SourceChoice(RECORDED, FORCED_RECORDED)
                if slo.window.rolling
                else SourceChoice(DIRECT, CALENDAR_REASON, CALENDAR_NOTE)
            )
    else:
        assert source is not None
        rolling = [slo for slo in slos if slo.window.rolling]
        try:
            present = recorded_series(source, at, rolling) if rolling else set()
        except MetricsError as error:  # the direct queries say what is wrong, naming theirs
            why = f"could not ask Prometheus which recorded series exist: {error}"
            return {slo.key: SourceChoice(DIRECT, why) for slo in slos}
        seen: dict[tuple[str, str, str], float] = {}
        if explain:
            absent = sorted(
                {
                    n
                    for s in rolling
                    for n in recorded_names(s)
                    if (n, s.service, s.name) not in present
                }
            )
            seen = last_samples(source, at, absent, rolling)
        chosen = {slo.key: choose_source(slo, present, seen, at) for slo in slos}
    if source is None:
        return chosen
    recorded = [slo for slo in slos if chosen[slo.key].source == RECORDED]
    for key, note in rules_fallbacks(recorded, source, at).items():
        chosen[key] = SourceChoice(DIRECT, f"a correction overlaps the period: {note}", note)
    return chosen


def evaluate_auto(
    slos: Sequence[SLO],
    source: MetricsSource,
    at: float,
    *,
    keep_going: bool = False,
    use_rules: bool | None = None,
    choices: Mapping[str, SourceChoice] | None = None,
) -> list[SLOStatus]:
    """Statuses from recorded series where they are there and fresh, direct queries elsewhere.

    ``use_rules`` True or False forces one source for all (``--use-rules``, ``--direct``);
    each status says which source it came from. Every report reads its SLOs through here:
    the CLI's, the scheduled ones, the policy's and an alert's budget line. ``choices``:
    ``source_choices``' answer when the caller already has it (to show each SLO's reason),
    so that it is not asked twice.
    """
    if use_rules is False:
        return evaluate(slos, source, at, keep_going=keep_going)
    chosen = (
        choices if choices is not None else source_choices(slos, source, at, use_rules=use_rules)
    )
    recorded = [slo for slo in slos if chosen[slo.key].source == RECORDED]
    direct = [slo for slo in slos if chosen[slo.key].source == DIRECT]
    found: dict[str, SLOStatus] = {}
    if recorded or use_rules:
        statuses = _from_recorded(recorded, source, at, required=bool(use_rules))
        found.update((s.slo.key, s) for s in statuses)
    if direct:
        for status in evaluate(direct, source, at, keep_going=keep_going):
            found[status.slo.key] = replace(status, source_note=chosen[status.slo.key].note)
    return [found[slo.key] for slo in slos]


def _ratio(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value
