"""The one SLO domain model every feature uses; every file format (ops/v1, OpenSLO, Sloth,
Pyrra) maps onto it through its reader in ``slo/formats/``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ops_toolkit.durations import format_duration
from ops_toolkit.slo.corrections import Correction

CALENDAR_SECONDS = {
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "quarter": 90 * 86400,
    "year": 365 * 86400,
}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
# Where periods start when the file names no start: a Monday, and a 1 January.
_NATURAL_START = {
    "day": "2000-01-01T00:00:00",
    "week": "2001-01-01T00:00:00",
    "month": "2000-01-01T00:00:00",
}


@dataclass(frozen=True)
class RatioSLI:
    """Counters: exactly one of ``bad``/``good``, and ``total`` (series selectors)."""

    total: str
    bad: str | None = None
    good: str | None = None


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` writes a bucket bound:
    the shortest digits that round-trip (``:g`` would round to 6), in exponent form when the
    exponent is below -4 or at least 6."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    from decimal import Decimal  # rules and latency SLIs only: not at every start-up

    shortest = Decimal(repr(value)).normalize()
    significant = len(shortest.as_tuple().digits)
    exponent = shortest.adjusted()
    if exponent < -4 or exponent >= 6:
        return f"{value:.{significant - 1}e}"
    return f"{value:.{max(significant - 1 - exponent, 0)}f}"


@dataclass(frozen=True)
class LatencySLI:
    """A histogram: events faster than ``below`` seconds are good."""

    histogram: str
    selector: str
    below: float

    @property
    def le(self) -> str:
        return go_float(self.below)

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
    """Rolling (``seconds``) or calendar (``count`` ``calendar`` units in ``timezone``).

    Calendar periods start at ``start`` (a local ISO time, OpenSLO's ``startTime``) and
    repeat every ``count`` units; without it, at the unit's natural start (Monday, the 1st).
    """

    seconds: int
    calendar: str | None = None
    timezone: str = "UTC"
    count: int = 1
    start: str | None = None

    @property
    def rolling(self) -> bool:
        return self.calendar is None

    @property
    def period_seconds(self) -> int:
        """The nominal period, used for burn-rate factors (a month counts as 30 days)."""
        return CALENDAR_SECONDS[self.calendar] * self.count if self.calendar else self.seconds

    def period_start(self, at: float) -> float:
        """When the calendar period holding ``at`` began (unix seconds)."""
        from datetime import UTC, datetime, timedelta
        from zoneinfo import ZoneInfo

        assert self.calendar is not None
        zone = ZoneInfo(self.timezone)
        now = datetime.fromtimestamp(at, tz=UTC).astimezone(zone).replace(tzinfo=None)
        anchor = datetime.fromisoformat(
            self.start or _NATURAL_START.get(self.calendar, _NATURAL_START["month"])
        ).replace(tzinfo=None)
        if self.calendar in ("day", "week"):
            step = timedelta(days=(7 if self.calendar == "week" else 1) * self.count)
            begin = anchor + step * ((now - anchor) // step)
        else:
            months = _MONTHS[self.calendar] * self.count
            elapsed = (now.year - anchor.year) * 12 + now.month - anchor.month
            begin = _add_months(anchor, elapsed // months * months)
            if begin > now:
                begin = _add_months(anchor, (elapsed // months - 1) * months)
        return begin.replace(tzinfo=zone).timestamp()

    def describe(self) -> str:
        if self.calendar:
            unit = self.calendar if self.count == 1 else f"{self.count} {self.calendar}s"
            since = f" from {self.start}" if self.start else ""
            return f"calendar {unit}{since}" + (
                f" ({self.timezone})" if self.timezone != "UTC" else ""
            )
        return format_duration(self.seconds)


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole months, the day clamped to the month's length (31 Jan + 1 = 28 Feb)."""
    import calendar

    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class BurnCondition:
    """A burn-rate alert condition a file defines (OpenSLO ``AlertCondition``, kind burnrate).

    Fires at ``severity`` (page or ticket) when the burn rate over ``lookback`` seconds
    stays at or above ``threshold`` (above it: ``at_least`` False, OpenSLO's ``op: gt``) for
    ``alert_after`` seconds; ``targets`` name where it should go. Rules and reports use it as
    the SLO's window pair (``windows.condition_window``): what the file asks for, not the
    Workbook's table.
    """

    name: str
    severity: str
    threshold: float
    lookback: int
    alert_after: int = 0
    targets: tuple[str, ...] = ()
    at_least: bool = True


@dataclass(frozen=True)
class BurnWindow:
    """One alert pair: fires when both windows burn faster than ``factor`` for ``for_seconds``
    (``at_least``: at ``factor`` too, as an OpenSLO condition with ``op: gte`` asks). A pair
    whose two windows are one is a single-window alert (an OpenSLO burn-rate condition)."""

    severity: str  # "page" | "ticket"
    long: int
    short: int
    factor: float
    for_seconds: int
    at_least: bool = False

    def burns(self, rate: float) -> bool:
        """Whether a window burning at ``rate`` meets this pair's factor."""
        return rate >= self.factor if self.at_least else rate > self.factor

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
    ``name``, ``labels`` and ``annotations`` apply to every burn alert of the SLO (as the
    formats that carry them mean it); ``page`` and ``ticket`` override per tier;
    ``disabled`` drops every burn-rate alert; ``no_data``: False drops the NoData alerts
    (Sloth generates none when both its tiers are disabled; Pyrra's ``absent: false``), so
    with both tiers disabled too the SLO gets recording rules only; ``conditions`` are
    burn-rate conditions a file gives (OpenSLO AlertConditions): without ``windows``, they
    are the SLO's alerts (one single-window alert each), in its rules and its report.
    """

    windows: tuple[BurnWindow, ...] | None = None
    min_events: int = 0
    page: SeverityAlert = field(default_factory=SeverityAlert)
    ticket: SeverityAlert = field(default_factory=SeverityAlert)
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False
    conditions: tuple[BurnCondition, ...] = ()
    no_data: bool = True

    def tier(self, severity: str) -> SeverityAlert:
        """One tier's settings with the SLO-wide ones beneath them."""
        own = self.page if severity == "page" else self.ticket
        return SeverityAlert(
            name=own.name or self.name,
            labels={**self.labels, **own.labels},
            annotations={**self.annotations, **own.annotations},
            disable=own.disable or self.disabled,
        )


@dataclass(frozen=True)
class WrittenQuery:
    """A query as its file wrote it, and where (its file may be another, by reference).

    Messages about a query name these, not ops's path or generated PromQL: an OpenSLO user
    finds ``spec.indicator.spec.ratioMetric.good`` in their file, not ``sli.raw.bad_query``.
    """

    source: str
    path: str
    text: str

    @property
    def place(self) -> str:
        return f"{self.source}: {self.path}"


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
    datasource: str | None = None  # a Prometheus URL the file names (OpenSLO DataSource)
    # Spans whose events count neither good nor bad (its file's list, then corrections.yaml).
    corrections: tuple[Correction, ...] = ()
    # The queries as written, by role ("total", "bad", "good"), for formats whose keys and
    # text differ from the model's (ops/v1's are the model's own, so it leaves this empty).
    written: Mapping[str, WrittenQuery] = field(default_factory=dict, compare=False)
    # The file's format, for advice in its own terms (only ops/v1 has alerting.min_events).
    format: str = field(default="ops/v1", compare=False)

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
