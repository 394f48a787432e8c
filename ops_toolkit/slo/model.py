"""The one SLO domain model every feature uses; every file format (ops/v1, OpenSLO, Sloth,
Pyrra) maps onto it through its reader in ``slo/formats/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
        from ops_toolkit.durations import format_duration

        return format_duration(self.seconds)


@dataclass(frozen=True)
class AlertTier:
    """One severity's alert as a team configured it (Sloth's ``page_alert``/``ticket_alert``).

    ``None``/empty means ops's defaults; ``disabled`` drops this severity's alert.
    """

    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False


@dataclass(frozen=True)
class Alerting:
    """Optional alert settings carried from an SLO file; the defaults change nothing.

    ``name``, ``labels`` and ``annotations`` apply to every alert of the SLO; ``page`` and
    ``ticket`` add or override per severity; ``disabled`` drops all burn-rate alerts.
    """

    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    page: AlertTier = field(default_factory=AlertTier)
    ticket: AlertTier = field(default_factory=AlertTier)
    disabled: bool = False


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
