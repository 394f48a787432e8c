"""The one SLO domain model every feature uses; ops/v1 and OpenSLO both map onto it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ops_toolkit.durations import format_duration

CALENDAR_SECONDS = {"week": 7 * 86400, "month": 30 * 86400, "quarter": 90 * 86400}


@dataclass(frozen=True)
class RatioSLI:
    """Counters: exactly one of ``bad``/``good``, and ``total`` (series selectors)."""

    total: str
    bad: str | None = None
    good: str | None = None


@dataclass(frozen=True)
class LatencySLI:
    """A histogram: events faster than ``below`` seconds are good."""

    histogram: str
    selector: str
    below: float

    @property
    def le(self) -> str:
        return f"{self.below:g}"

    @property
    def le_spellings(self) -> tuple[str, ...]:
        """How exporters write this bound: Prometheus 3 normalises whole classic bucket bounds
        to ``1.0`` where Prometheus 2 and most client libraries wrote ``1``."""
        if self.below == int(self.below) and "e" not in self.le:
            return (self.le, f"{self.le}.0")
        return (self.le,)

    @property
    def le_matcher(self) -> str:
        """The bucket's label matcher, matching every spelling (``[.]``: no escaping needed)."""
        spellings = self.le_spellings
        if len(spellings) == 1:
            return f'le="{self.le}"'
        return f'le=~"{self.le}|{self.le}[.]0"'

    def has_bound(self, le: str) -> bool:
        try:
            return float(le) == self.below
        except ValueError:
            return False


@dataclass(frozen=True)
class RawSLI:
    """PromQL templates with ``{{window}}``, each returning one number of events."""

    bad_query: str
    total_query: str


SLI = RatioSLI | LatencySLI | RawSLI


@dataclass(frozen=True)
class Window:
    """Rolling (``seconds``) or calendar (``calendar`` in ``timezone``)."""

    seconds: int
    calendar: str | None = None
    timezone: str = "UTC"

    @property
    def rolling(self) -> bool:
        return self.calendar is None

    @property
    def period_seconds(self) -> int:
        """The nominal period, used for burn-rate factors (a month counts as 30 days)."""
        return CALENDAR_SECONDS[self.calendar] if self.calendar else self.seconds

    def describe(self) -> str:
        if self.calendar:
            return f"calendar {self.calendar}" + (
                f" ({self.timezone})" if self.timezone != "UTC" else ""
            )
        return format_duration(self.seconds)


@dataclass(frozen=True)
class BurnWindow:
    """One alert pair: fires when both windows burn faster than ``factor`` for ``for_seconds``."""

    severity: str  # "page" | "ticket"
    long: int
    short: int
    factor: float
    for_seconds: int

    def budget_share(self, period_seconds: int) -> float:
        """The share of the period's budget spent in the long window when it fires."""
        return self.factor * self.long / period_seconds

    @property
    def long_name(self) -> str:
        return format_duration(self.long)

    @property
    def short_name(self) -> str:
        return format_duration(self.short)

    @property
    def for_name(self) -> str:
        return format_duration(self.for_seconds)


@dataclass(frozen=True)
class SeverityAlert:
    """What a team sets for one tier's alerts (as Sloth's page_alert/ticket_alert): the alert
    name (None: ``<Service><Slo>BudgetBurn``), extra labels (``severity`` may be renamed,
    e.g. ``critical``; ``tier`` stays ``page``/``ticket``), annotations, or no alert at all."""

    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    disable: bool = False


@dataclass(frozen=True)
class Alerting:
    """How an SLO's alerts are built; every field is optional (the defaults need nothing).

    ``windows``: a custom window set (None: the Workbook's table scaled to the period).
    ``min_events``: a pair fires only when its long window holds at least this many events
    (0: off), so a low-traffic service does not page on one bad event out of two.
    """

    windows: tuple[BurnWindow, ...] | None = None
    min_events: int = 0
    page: SeverityAlert = field(default_factory=SeverityAlert)
    ticket: SeverityAlert = field(default_factory=SeverityAlert)

    def tier(self, severity: str) -> SeverityAlert:
        return self.page if severity == "page" else self.ticket


@dataclass(frozen=True)
class SLO:
    service: str
    name: str
    objective: float  # percent, as written
    window: Window
    sli: SLI
    source: str
    path: str  # YAML path of the definition, for messages
    description: str = ""
    runbook: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    alerting: Alerting = field(default_factory=Alerting)

    @property
    def budget(self) -> float:
        """The error budget as a fraction of events, ``1 - objective``."""
        return round(1.0 - self.objective / 100.0, 12)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def place(self) -> str:
        return f"{self.source}: {self.path}"


@dataclass(frozen=True)
class SLOFile:
    """One definitions file: its SLOs, and the service they belong to."""

    source: str
    service: str
    slos: tuple[SLO, ...]
