"""Error-budget maths, pure (SRE Workbook, "Implementing SLOs" and "Alerting on SLOs").

For a window: SLI = good/total; budget B = 1 - objective; error rate E = bad/total;
burn rate = E / B; budget remaining = 1 - E/B (below 0 once overspent); bad events left =
B*total - bad. Zero events in the window is no data (None), never 100%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ops_toolkit.slo.model import BurnWindow


@dataclass(frozen=True)
class Counts:
    """Events in a window; ``good`` is derived from the others."""

    bad: float
    total: float

    @property
    def good(self) -> float:
        return self.total - self.bad

    @property
    def empty(self) -> bool:
        return self.total <= 0


def sli(counts: Counts) -> float | None:
    return None if counts.empty else _clamp(counts.good / counts.total)


def error_rate(counts: Counts) -> float | None:
    return None if counts.empty else _clamp(counts.bad / counts.total)


def burn_from_ratio(ratio: float | None, budget: float) -> float | None:
    """Burn rate from an error ratio; None (or NaN, no events) is no data."""
    if ratio is None or math.isnan(ratio):
        return None
    return ratio / budget


def remaining_from_ratio(ratio: float | None, budget: float) -> float | None:
    burn = burn_from_ratio(ratio, budget)
    return None if burn is None else 1.0 - burn


def burn_rate(counts: Counts, budget: float) -> float | None:
    return burn_from_ratio(error_rate(counts), budget)


def budget_remaining(counts: Counts, budget: float) -> float | None:
    return remaining_from_ratio(error_rate(counts), budget)


def bad_events_left(counts: Counts, budget: float) -> float | None:
    return None if counts.empty else budget * counts.total - counts.bad


def projected_remaining(
    so_far: Counts, current_burn: float | None, elapsed: float, period: float, budget: float
) -> float | None:
    """Budget left at the end of a calendar period if the current burn rate holds.

    Assumes steady traffic: the rest of the period burns at ``current_burn``.
    """
    spent = burn_rate(so_far, budget)
    if spent is None or period <= 0:
        return None
    rest = current_burn if current_burn is not None else spent
    return 1.0 - (spent * elapsed + rest * max(0.0, period - elapsed)) / period


STATUSES = ("exhausted", "critical", "warning", "error", "no_data", "ok")


def status(
    remaining: float | None,
    burn_rates: Mapping[int, float | None],
    alerts: Sequence[BurnWindow],
    *,
    totals: Mapping[int, float | None] | None = None,
    min_events: int = 0,
) -> str:
    """exhausted > critical (a page pair fires) > warning (a ticket pair fires) > no_data > ok.

    ``alerts`` is the SLO's window table (``windows.alert_windows``), the same the generated
    alerting rules use, so the report's status and the alerts agree for every period;
    ``totals`` (events per window) matter only with ``min_events``.
    """
    if remaining is None:
        return "no_data"
    if remaining <= 0:
        return "exhausted"
    fired = {pair.severity for pair in alerts if fires(pair, burn_rates, totals, min_events)}
    if "page" in fired:
        return "critical"
    if "ticket" in fired:
        return "warning"
    return "ok"


def fires(
    pair: BurnWindow,
    burn_rates: Mapping[int, float | None],
    totals: Mapping[int, float | None] | None = None,
    min_events: int = 0,
) -> bool:
    """Both windows burn faster than the pair's factor (a window without data never fires),
    and the long window holds at least ``min_events`` events."""
    a, b = burn_rates.get(pair.long), burn_rates.get(pair.short)
    if a is None or b is None or not pair.burns(a) or not pair.burns(b):
        return False
    if min_events <= 0:
        return True
    events = (totals or {}).get(pair.long)
    return events is not None and events >= min_events


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
