"""Maintenance windows and budget corrections: spans whose events count neither good nor bad.

A correction is one-off (``start``/``end``) or recurring (a cron expression read in its own
time zone, and a ``duration``), each with a ``reason``. They come from an ops/v1 SLO's
``corrections:`` list or, for SLOs of any format, from ``slos/corrections.yaml``::

    corrections:
      search-api/availability:
        - {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:30:00Z, reason: INC-231 bad deploy}
        - {cron: "0 2 * * SUN", duration: 1h, timezone: Europe/Berlin, reason: weekly upgrade}

``intervals`` expands them into merged, sorted UTC spans over a range; every consumer (the
report's direct queries, the generated rules, the charts) works from those spans. Pure: no
IO, and time is passed in.

Recurring windows follow cron's wall clock in their zone, DST included: ``0 2 * * *`` in
Europe/Berlin starts at 01:00 UTC in winter and 00:00 UTC in summer. A start that falls in
the hour skipped when clocks go forward begins as the clock jumps (02:30 on Berlin's
spring-forward day starts at 03:00 CEST, 01:00 UTC, as cron runs a skipped job), and a start
in the hour repeated in autumn is taken once, at its first occurrence. A duration is
elapsed time: ``1h`` lasts one hour even across a change of clocks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ops_toolkit.durations import DurationTooLong, format_duration, parse_duration, shorten
from ops_toolkit.yamlpath import Node, check_timezone, show

if TYPE_CHECKING:
    from ops_toolkit.slo.model import SLO

Interval = tuple[datetime, datetime]

CORRECTIONS_FILE = "corrections.yaml"
_KEYS = ("start", "end", "cron", "duration", "timezone", "reason")
_CRON_EXAMPLE = "e.g. '0 2 * * SUN'"
# A recurring correction longer than this is not a maintenance window but a typo.
MAX_DURATION = 7 * 86400
MIN_RECURRENCE = 3600
MAX_REASON = 500


@dataclass(frozen=True)
class Correction:
    """One correction; ``place`` names where it was written, for messages.

    One-off: ``start`` and ``end`` (aware UTC datetimes). Recurring: ``cron``, ``duration``
    (seconds) and ``timezone`` (the zone the cron expression's wall clock is read in).
    """

    reason: str
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    duration: int = 0
    timezone: str = "UTC"
    place: str = ""

    @property
    def recurring(self) -> bool:
        return self.cron is not None

    def describe(self) -> str:
        """One line for reports: when, then why."""
        if self.cron is not None:
            return (
                f"every '{self.cron}' ({self.timezone}) for {format_duration(self.duration)}: "
                f"{self.reason}"
            )
        assert self.start is not None and self.end is not None
        return f"{_iso(self.start)} to {_iso(self.end)}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        """The correction as JSON/YAML fields (times as RFC 3339 UTC)."""
        if self.cron is not None:
            return {
                "cron": self.cron,
                "duration": format_duration(self.duration),
                "timezone": self.timezone,
                "reason": self.reason,
            }
        assert self.start is not None and self.end is not None
        return {"start": _iso(self.start), "end": _iso(self.end), "reason": self.reason}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- parsing ------------------------------------------------------------------------------


def parse_corrections(node: Node) -> tuple[Correction, ...]:
    """A ``corrections:`` list (absent: none); each error names the item's YAML path."""
    if node.value is None:
        return ()
    return tuple(parse_correction(item) for item in node.items())


def parse_correction(node: Node) -> Correction:
    node.mapping(_KEYS)
    reason = node.text("reason", required=False)
    if not reason:
        raise node.child("reason").error(
            "is required: say why these events do not count (e.g. 'planned database upgrade')"
        )
    problem = reason_problem(reason)
    if problem:
        raise node.child("reason").error(problem)
    timezone = node.text("timezone", required=False) or "UTC"
    check_timezone(node.child("timezone"), timezone)
    zone = ZoneInfo(timezone)
    place = f"{node.source}: {node.path}"
    if node.has("cron"):
        for key in ("start", "end"):
            if node.has(key):
                raise node.child(key).error(
                    "a recurring correction (cron) has no start or end; give 'duration'"
                )
        cron = node.text("cron")
        assert cron is not None
        if not valid_cron(cron):
            raise node.child("cron").error(
                f"not a cron expression: {shorten(cron)!r} ({_CRON_EXAMPLE})"
            )
        problem = cron_problem(cron)
        if problem:
            raise node.child("cron").error(f"{shorten(cron)!r} {problem}")
        if not node.has("duration"):
            raise node.child("duration").error(
                "is required with cron: how long each window lasts (e.g. 1h)"
            )
        return Correction(
            reason,
            cron=cron,
            duration=_duration(node.child("duration")),
            timezone=timezone,
            place=place,
        )
    if node.has("duration"):
        raise node.child("duration").error(
            "only a recurring correction (cron) has a duration; a one-off one gives 'end'"
        )
    if not node.has("start") and not node.has("end"):
        raise node.error("give 'start' and 'end' (one-off), or 'cron' and 'duration' (recurring)")
    start = _moment(node.child("start"), zone)
    end = _moment(node.child("end"), zone)
    if end <= start:
        raise node.child("end").error(f"must be after start ({_iso(start)}), got {_iso(end)}")
    return Correction(reason, start=start, end=end, timezone=timezone, place=place)


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` cannot be shown as it is, or None: reports print it in terminals,
    tables and chat, where a line break, an escape sequence or a bidi override would fake
    or hide what is around it."""
    from ops_toolkit.formatting import BIDI_CONTROLS

    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in BIDI_CONTROLS for c in reason):
        return "must be one line without control or bidi characters"
    if len(reason) > MAX_REASON:
        return f"must be at most {MAX_REASON} characters, got {len(reason)}"
    return None


def valid_cron(expression: str) -> bool:
    """Five-field cron (minute hour day month weekday), as the scheduled reports take."""
    from croniter import croniter

    return len(expression.split()) == 5 and bool(croniter.is_valid(expression))


def cron_problem(expression: str) -> str | None:
    """Why a valid cron expression cannot serve as a maintenance window, or None.

    It must fire (``0 0 31 2 *`` never does), and at most once an hour: each window is
    asked of Prometheus on its own, so a window every 5 minutes would be thousands of
    queries per report (and is not maintenance but an SLI that needs a better selector).
    """
    from croniter import CroniterBadDateError, croniter

    walker = croniter(expression, datetime(2001, 1, 1))
    try:
        firings = [walker.get_next(datetime) for _ in range(50)]
    except CroniterBadDateError:
        return "never fires"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(firings)]
    if min(gaps) < MIN_RECURRENCE:
        return (
            f"fires every {format_duration(min(gaps))}; a recurring correction may start at "
            "most once an hour"
        )
    return None


def _duration(node: Node) -> int:
    raw = node.value
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise node.error(f"expected a duration like 2h or 30m, got {show(raw)}")
    try:
        seconds = parse_duration(str(raw))
    except DurationTooLong:
        seconds = MAX_DURATION + 1.0
    except ValueError:
        raise node.error(f"expected a duration like 2h or 30m, got {show(node.value)}") from None
    if seconds < 60 or seconds != int(seconds):
        raise node.error(f"expected at least 1m in whole seconds, got {show(node.value)}")
    if seconds > MAX_DURATION:
        raise node.error(f"expected at most 7d, got {show(node.value)}")
    return int(seconds)


def parse_moment(value: object, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time (YAML may have read it already) as aware UTC; naive: in ``zone``.

    A bare date is its midnight in ``zone``. Raises ValueError with the expected form.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 time like 2026-11-03T14:00:00Z, got {show(value)}"
            ) from None
    else:
        raise ValueError(f"expected an ISO 8601 time like 2026-11-03T14:00:00Z, got {show(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise ValueError(f"{show(str(value))} is out of range (years 1 to 9999 in UTC)") from None


def _moment(node: Node, zone: ZoneInfo) -> datetime:
    if node.value is None:
        raise node.error("is required: a one-off correction has a start and an end")
    try:
        return parse_moment(node.value, zone)
    except ValueError as exc:
        raise node.error(str(exc)) from None


def parse_corrections_file(
    root: Node, known: Iterable[str], *, strict: bool = True
) -> dict[str, tuple[Correction, ...]]:
    """``slos/corrections.yaml``: corrections per ``service/slo`` key.

    A key that names no SLO among ``known`` is an error with a suggestion, so a correction
    never silently applies to nothing; not ``strict``, such a key is checked and skipped
    (the file serves SLOs that were not loaded this time).
    """
    from ops_toolkit.suggest import did_you_mean

    if root.value is None:
        return {}
    root.mapping(("corrections",))
    table = root.child("corrections")
    if table.value is None:
        return {}
    if not isinstance(table.value, dict):
        raise table.error(f"expected a mapping of service/slo to a list, got {show(table.value)}")
    keys = list(known)
    found: dict[str, tuple[Correction, ...]] = {}
    for key in table.value:
        child = table.child(str(key))
        if str(key) not in keys:
            if not strict:
                parse_corrections(child)
                continue
            hint = did_you_mean(str(key), keys)
            raise child.error(f"no SLO {str(key)!r}{hint} (keys are service/slo)")
        found[str(key)] = parse_corrections(child)
    return found


def is_corrections_file(path: str) -> bool:
    import os

    return os.path.basename(path) in (CORRECTIONS_FILE, "corrections.yml")


# -- expansion ----------------------------------------------------------------------------


def intervals(corrections: Iterable[Correction], start: datetime, end: datetime) -> list[Interval]:
    """The UTC spans the corrections cover within ``[start, end]``: clipped, merged, sorted.

    Spans that overlap or touch are merged, so the result is strictly increasing and
    disjoint: ``a1 < b1 < a2 < b2 ...``.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    spans: list[Interval] = []
    for correction in corrections:
        for begin, finish in _spans(correction, start, end):
            begin, finish = max(begin, start), min(finish, end)
            if begin < finish:
                spans.append((begin, finish))
    return merge(spans)


def clip(spans: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Merged ``spans`` cut to ``[start, end]``, so that one expansion serves every window."""
    clipped = []
    for begin, finish in spans:
        begin, finish = max(begin, start), min(finish, end)
        if begin < finish:
            clipped.append((begin, finish))
    return clipped


def merge(spans: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, finish in sorted(spans):
        if merged and begin <= merged[-1][1]:
            if finish > merged[-1][1]:
                merged[-1] = (merged[-1][0], finish)
        else:
            merged.append((begin, finish))
    return merged


def _spans(correction: Correction, start: datetime, end: datetime) -> Iterable[Interval]:
    if correction.cron is None:
        assert correction.start is not None and correction.end is not None
        yield correction.start, correction.end
        return
    from croniter import CroniterBadDateError, croniter

    zone = ZoneInfo(correction.timezone)
    length = timedelta(seconds=correction.duration)
    # Walk cron's wall clock in the zone, starting early enough to catch a window that began
    # before ``start`` (a day covers any UTC offset change).
    local = (start - length - timedelta(days=1)).astimezone(zone).replace(tzinfo=None)
    walker = croniter(correction.cron, local)
    while True:
        try:
            naive: datetime = walker.get_next(datetime)
        except CroniterBadDateError:  # no further firing (parsing refuses crons with none)
            return
        begin = to_utc(naive, zone)
        if begin >= end:
            return
        yield begin, begin + length


def to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which ``zone``'s clock shows at least ``naive``, in UTC.

    For most times that is the one instant; for a time repeated when clocks go back, its
    first occurrence; for a time skipped when clocks go forward, the jump itself (as cron
    runs a job of the skipped hour when the clock jumps).
    """
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 reads it with the new offset (before the jump), fold=0 with the old
    # one (after it); the jump lies between. Find it to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(low, first), max(low, first)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def attach(slos: Iterable[SLO], table: Mapping[str, tuple[Correction, ...]]) -> list[SLO]:
    """``slos`` with the corrections ``table`` holds for each (``corrections.yaml``) added to
    the ones their own file gives."""
    import dataclasses

    return [
        dataclasses.replace(slo, corrections=slo.corrections + table[slo.key])
        if table.get(slo.key)
        else slo
        for slo in slos
    ]
