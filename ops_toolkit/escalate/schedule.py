"""On-call schedules: who is on call at an instant, and when it changes. Pure.

A schedule has layers; each layer is a rotation of participants (Slack user ids or emails)
handing off at a wall-clock time in the schedule's time zone, daily, weekly or every N
days, optionally restricted to some weekdays and hours. A later layer wins wherever it has
someone on call; an override (a person for a period) wins over every layer, the latest
override over earlier ones.

Handoffs are wall-clock times, so they stay at 09:00 local across daylight saving changes:
a shift spanning the spring change is an hour shorter, one spanning the autumn change an
hour longer. A handoff time that does not exist on a spring-forward day (02:30 in
Europe/Berlin) happens when the clock reads that time plus the gap (03:30); an ambiguous one
on the autumn day happens at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HANDOFF_HORIZON = timedelta(days=35)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def is_participant(text: str) -> bool:
    """A Slack user id (U0123ABCD) or an email address."""
    return bool(SLACK_USER.match(text) or EMAIL.match(text))


@dataclass(frozen=True)
class Restriction:
    """The weekdays (0 = Monday) and local hours [start, end) a layer covers; end may wrap."""

    days: frozenset[int] = frozenset(range(7))
    start: time = time(0, 0)
    end: time = time(0, 0)  # equal to start: the whole day

    def covers(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None, fold=0)
        if self.start == self.end:
            return local.weekday() in self.days
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        # Wraps past midnight (22:00-06:00): the early hours belong to the previous day's span.
        if clock >= self.start:
            return local.weekday() in self.days
        if clock < self.end:
            return (local.weekday() - 1) % 7 in self.days
        return False

    @property
    def whole_week(self) -> bool:
        return len(self.days) == 7 and self.start == self.end


@dataclass(frozen=True)
class Layer:
    name: str
    participants: tuple[str, ...]
    start: date  # the first participant's first shift starts on this local date
    handoff: time
    every_days: int  # 1 daily, 7 weekly, N every N days
    restriction: Restriction = field(default_factory=Restriction)
    until: datetime | None = None  # the layer ends (exclusive), an aware datetime

    def shift_start(self, index: int, zone: ZoneInfo) -> datetime:
        """The instant shift ``index`` begins (UTC); nonexistent local times move forward."""
        day = self.start + timedelta(days=index * self.every_days)
        return _localize(datetime.combine(day, self.handoff), zone)

    def shift_index(self, moment: datetime, zone: ZoneInfo) -> int:
        """The shift running at ``moment`` (negative before the layer starts)."""
        local = moment.astimezone(zone)
        index = (local.date() - self.start).days // self.every_days
        while self.shift_start(index, zone) > moment:
            index -= 1
        while self.shift_start(index + 1, zone) <= moment:
            index += 1
        return index

    def on_call(self, moment: datetime, zone: ZoneInfo) -> str | None:
        if self.until is not None and moment >= self.until:
            return None
        index = self.shift_index(moment, zone)
        if index < 0 or not self.restriction.covers(moment.astimezone(zone)):
            return None
        return self.participants[index % len(self.participants)]


@dataclass(frozen=True)
class Override:
    """``user`` is on call from ``start`` to ``end`` (aware datetimes, end exclusive)."""

    user: str
    start: datetime
    end: datetime
    created_at: float = 0.0  # a later override wins over an earlier one that overlaps
    id: int | None = None


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    user: str | None  # nobody on call


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    layers: tuple[Layer, ...]
    channel: str | None = None  # where handoff notices go
    overrides: tuple[Override, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def who(self, moment: datetime, overrides: Sequence[Override] = ()) -> str | None:
        """Who is on call at ``moment``: overrides first (latest wins), then the last layer."""
        active = [o for o in (*self.overrides, *overrides) if o.start <= moment < o.end]
        if active:
            return max(active, key=lambda o: (o.created_at, o.id or 0)).user
        zone = self.zone
        for layer in reversed(self.layers):
            user = layer.on_call(moment, zone)
            if user is not None:
                return user
        return None

    def shifts(
        self, start: datetime, end: datetime, overrides: Sequence[Override] = ()
    ) -> list[Shift]:
        """Who is on call from ``start`` to ``end``, as consecutive shifts of one person each."""
        if end <= start:
            return []
        points = sorted(
            {start, *(p for p in self._changes(start, end, overrides) if start < p < end)}
        )
        shifts: list[Shift] = []
        for here, after in zip(points, [*points[1:], end], strict=True):
            user = self.who(here, overrides)
            if shifts and shifts[-1].user == user:
                shifts[-1] = Shift(shifts[-1].start, after, user)
            else:
                shifts.append(Shift(here, after, user))
        return shifts

    def handoffs(
        self, start: datetime, end: datetime, overrides: Sequence[Override] = ()
    ) -> list[Shift]:
        """Shifts that begin in (start, end]: each is a handoff to its user, with its real
        end (looked up to ``HANDOFF_HORIZON`` ahead)."""
        shifts = self.shifts(start - timedelta(seconds=1), end + HANDOFF_HORIZON, overrides)
        return [s for s in shifts[1:] if start < s.start <= end]

    def _changes(
        self, start: datetime, end: datetime, overrides: Sequence[Override]
    ) -> Iterable[datetime]:
        """Every instant in (start, end) where the on-call person may change."""
        zone = self.zone
        for override in (*self.overrides, *overrides):
            yield override.start
            yield override.end
        for layer in self.layers:
            if layer.until is not None:
                yield layer.until
            index = max(0, layer.shift_index(start, zone))
            while (moment := layer.shift_start(index, zone)) < end:
                yield moment
                index += 1
            if not layer.restriction.whole_week:
                day = start.astimezone(zone).date() - timedelta(days=1)
                while (midnight := _localize(datetime.combine(day, time(0)), zone)) < end:
                    yield midnight
                    yield _localize(datetime.combine(day, layer.restriction.start), zone)
                    yield _localize(datetime.combine(day, layer.restriction.end), zone)
                    day += timedelta(days=1)


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant.

    In a DST gap ``fold=0`` uses the offset from before the change, so the time lands the
    gap's length later on the new clock (02:30 becomes 03:30); an ambiguous time is its
    first occurrence.
    """
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
