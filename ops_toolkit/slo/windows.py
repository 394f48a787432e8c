"""The multi-window, multi-burn-rate alert table as data (SRE Workbook, "Alerting on SLOs").

Each pair fires when both its long and short windows burn faster than its factor. The
Workbook's table is for a 30-day period: page at 14.4x over 1h/5m and 6x over 6h/30m, ticket
at 3x over 1d/2h and 1x over 3d/6h, so each tier spends a fixed share of the period's budget
before it fires (2%, 5%, 10%, 10%). For other periods the factors stay and the windows scale
with the period (as Pyrra does): the long windows are 1h, 6h, 1d, 3d times period/30d, in whole
minutes; the short window is a twelfth of the long, at least 5m (the resolution of the
recorded event counts). Scaling the factors instead would page a 3-day SLO at burn rate 0.6,
while its budget would last the period.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import SLO, BurnCondition, BurnWindow

MINUTE, HOUR, DAY = 60, 3600, 86400
REFERENCE_PERIOD = 30 * DAY
MIN_WINDOW = 5 * MINUTE  # the recorded event counts are 5m increases

# (severity, long window at a 30-day period, factor): the Workbook's table.
WORKBOOK: tuple[tuple[str, int, float], ...] = (
    ("page", 1 * HOUR, 14.4),
    ("page", 6 * HOUR, 6.0),
    ("ticket", 1 * DAY, 3.0),
    ("ticket", 3 * DAY, 1.0),
)

# The windows every report shows (the 30-day table's), whatever the SLO's period.
DISPLAY_WINDOWS: tuple[int, ...] = (
    5 * MINUTE,
    30 * MINUTE,
    1 * HOUR,
    2 * HOUR,
    6 * HOUR,
    1 * DAY,
    3 * DAY,
)
BURN_WINDOWS = DISPLAY_WINDOWS  # the name older callers use


def whole_minutes(seconds: float) -> int:
    """Rounded half up to whole minutes: PromQL ranges and people both read minutes."""
    return math.floor(seconds / MINUTE + 0.5) * MINUTE


def default_for(short: int) -> int:
    """How long a pair must hold before it fires: half its short window, in whole minutes,
    at least 1m, so one scrape spike does not page (30d: 2m, 15m, 1h, 3h, as Pyrra's)."""
    return max(MINUTE, short // 2 // MINUTE * MINUTE)


def shortest_period() -> int:
    """The shortest period whose shortest long window still rounds to 5m."""
    smallest_long = min(long for _, long, _ in WORKBOOK)
    # whole_minutes(smallest_long * p / REFERENCE) >= MIN_WINDOW  <=>  p >= this (in hours)
    needed = (MIN_WINDOW - MINUTE / 2) * REFERENCE_PERIOD / smallest_long
    return math.ceil(needed / HOUR) * HOUR


@functools.lru_cache(maxsize=256)
def scaled_windows(period_seconds: int) -> tuple[BurnWindow, ...]:
    """The Workbook's table for a period; raises ValueError (the reason) when too short.

    Cached: a report asks it for every SLO several times, with a few distinct periods."""
    table = []
    for severity, base_long, factor in WORKBOOK:
        long = whole_minutes(base_long * period_seconds / REFERENCE_PERIOD)
        if long < MIN_WINDOW:
            raise ValueError(
                f"{format_duration(period_seconds)} is too short for burn-rate alerts: the "
                f"{format_duration(base_long)} window scaled to it is under 5m, the resolution "
                f"of the recorded event counts; use a window of at least "
                f"{format_duration(shortest_period())} or give alerting.windows"
            )
        short = max(MIN_WINDOW, whole_minutes(long / 12))
        table.append(BurnWindow(severity, long, short, factor, default_for(short)))
    return tuple(table)


def alert_windows(slo: SLO) -> tuple[BurnWindow, ...]:
    """The SLO's own window set when it gives one, else its file's burn-rate conditions
    (OpenSLO AlertConditions), else the table scaled to its period."""
    if slo.alerting.windows:
        return slo.alerting.windows
    if slo.alerting.conditions:
        return tuple(condition_window(c) for c in slo.alerting.conditions)
    try:
        return scaled_windows(slo.window.period_seconds)
    except ValueError as error:
        raise ConfigError(f"{slo.place}.window: {error}") from None


def report_windows(slo: SLO) -> tuple[int, ...]:
    """Every window a report or rule file computes a ratio over for ``slo``, shortest first."""
    return windows_of((slo,))


def windows_of(slos: Iterable[SLO]) -> tuple[int, ...]:
    seen = set(DISPLAY_WINDOWS)
    for slo in slos:
        for pair in alert_windows(slo):
            seen.update((pair.long, pair.short))
    return tuple(sorted(seen))


def condition_window(condition: BurnCondition) -> BurnWindow:
    """A burn-rate condition as an alert pair of one window: the burn rate over its
    ``lookbackWindow`` at (or above) its threshold for ``alertAfter``. No short window is
    added: the alert is the one the file defines, which the reader has checked ops can
    evaluate (page or ticket, a window of whole minutes from 5m)."""
    return BurnWindow(
        condition.severity,
        condition.lookback,
        condition.lookback,
        condition.threshold,
        condition.alert_after,
        at_least=condition.at_least,
    )
