"""Error-budget burn-down: how much of a window's budget was left at points across it.

remaining(t) = 1 - bad(start, t) / (budget * total(start, end)): the share of the whole
window's budget not yet spent at t. The ideal line spends it evenly, from 1 to 0. Events
inside a correction are left out of bad(start, t) as the report leaves them out, and the
corrected spans come with the chart so that it can shade them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.metrics.pool import concurrent_map
from ops_toolkit.slo.evaluate import (
    SLOStatus,
    corrected_intervals,
    correction_ranges,
    period_seconds_at,
    pinned_count_queries,
)
from ops_toolkit.slo.queries import count_queries, promql_range


@dataclass(frozen=True)
class BurnDown:
    key: str
    status: str
    start: float
    end: float  # the window's end (for calendar windows, the period's end, maybe ahead)
    points: tuple[tuple[float, float], ...]  # (time, remaining)
    corrected: tuple[tuple[float, float], ...] = ()  # merged corrected spans (unix seconds)


def burndown(status: SLOStatus, source: MetricsSource, points: int = 30) -> BurnDown | None:
    """Burn-down of one evaluated SLO; None when the window has no events."""
    slo, at = status.slo, status.at
    elapsed = period_seconds_at(slo.window, at)
    start = at - elapsed
    end = start + (slo.window.seconds if slo.window.rolling else slo.window.period_seconds)
    if status.period is None or status.period.total <= 0:
        return None
    expected_total = status.period.total * (end - start) / max(1.0, at - start)
    times = [start + (at - start) * k / points for k in range(1, points + 1)]
    spans = corrected_intervals(slo, start, end)

    def counts(counted_query: str, total_query: str, moment: float) -> tuple[float, float]:
        counted_value = sum(s.value for s in source.query(counted_query, moment))
        total_value = sum(s.value for s in source.query(total_query, moment))
        return counted_value, total_value

    def bad_until(moment: float) -> float:
        span = max(60, int(moment - start))
        counted, counted_query, total_query = count_queries(slo.sli, promql_range(span))
        try:
            counted_value, total_value = counts(counted_query, total_query, moment)
            for length, until in correction_ranges(slo, moment - span, moment, spans):
                _, pinned_counted, pinned_total = pinned_count_queries(slo, length, until)
                out_counted, out_total = counts(pinned_counted, pinned_total, moment)
                counted_value -= out_counted
                total_value -= out_total
            if counted == "bad":
                return max(0.0, counted_value)
            return max(0.0, total_value - counted_value)
        except Exception:  # a missing point is left out of the chart, not fatal
            return float("nan")

    bads = concurrent_map(bad_until, times, 4)
    budget_events = slo.budget * expected_total
    series = tuple(
        (t, 1.0 - bad / budget_events) for t, bad in zip(times, bads, strict=True) if bad == bad
    )
    corrected = tuple(correction_ranges(slo, start, end, spans))
    return BurnDown(
        slo.key,
        status.status,
        start,
        end,
        ((start, 1.0), *series),
        tuple((until - length, until) for length, until in corrected),
    )


def burndowns(statuses: Sequence[SLOStatus], source: MetricsSource) -> list[BurnDown]:
    return [b for b in (burndown(s, source) for s in statuses if s.error is None) if b is not None]
