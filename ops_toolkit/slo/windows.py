"""The multi-window, multi-burn-rate alert table as data (SRE Workbook, "Alerting on SLOs").

Each pair fires when both its long and short windows burn faster than its factor; the factor
is the share of the period's budget the long window may spend: budget_share * period / long.
For a 30-day period this gives the Workbook's 14.4, 6, 3 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops_toolkit.durations import format_duration

MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass(frozen=True)
class BurnAlert:
    severity: str  # "page" | "ticket"
    long: int
    short: int
    budget_share: float

    def factor(self, period_seconds: int) -> float:
        return round(self.budget_share * period_seconds / self.long, 6)

    @property
    def long_name(self) -> str:
        return format_duration(self.long)

    @property
    def short_name(self) -> str:
        return format_duration(self.short)


BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("page", 1 * HOUR, 5 * MINUTE, 0.02),
    BurnAlert("page", 6 * HOUR, 30 * MINUTE, 0.05),
    BurnAlert("ticket", 1 * DAY, 2 * HOUR, 0.10),
    BurnAlert("ticket", 3 * DAY, 6 * HOUR, 0.10),
)

# Every window a report or a rule file computes an error ratio over, shortest first.
BURN_WINDOWS: tuple[int, ...] = tuple(sorted({w for a in BURN_ALERTS for w in (a.long, a.short)}))
