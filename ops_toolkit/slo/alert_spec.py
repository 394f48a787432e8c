"""The ``alerting:`` section of an ops/v1 SLO -> ``Alerting``, validated with YAML paths.

Kept apart from ``spec.py`` (which reads the rest of the file) because it is checked against
the burn-rate table in ``windows.py``: a custom window set must not fire while the budget
lasts the period, and without one the period must be long enough for the scaled table.
"""

from __future__ import annotations

import math
import re

from ops_toolkit.durations import format_duration, parse_duration
from ops_toolkit.slo.formats.common import label_problem
from ops_toolkit.slo.model import Alerting, BurnWindow, SeverityAlert, Window
from ops_toolkit.slo.windows import MIN_WINDOW, default_for, scaled_windows
from ops_toolkit.yamlpath import Node, show

_ALERTING_KEYS = ("windows", "min_events", "page", "ticket", "no_data")
_TIER_KEYS = ("name", "labels", "annotations", "disable")
_ALERT_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Labels ops sets on alerts and that grouping, routing and inhibition rely on.
_FIXED_ALERT_LABELS = ("service", "slo", "tier", "long", "short", "missing", "alertname")
_WINDOW_KEYS = ("severity", "long", "short", "factor", "for")


def parse_alerting(slo: Node, window: Window) -> Alerting:
    """``slo`` is the SLO's node; its ``alerting`` child may be absent."""
    node = slo.child("alerting")
    if node.value is None:
        _check_period(slo, window)
        return Alerting()
    node.mapping(_ALERTING_KEYS)
    windows = _windows(node.child("windows"), window) if node.has("windows") else None
    if windows is None:
        _check_period(slo, window)
    page, ticket = (_tier(node.child(name)) for name in ("page", "ticket"))
    no_data = node.child("no_data").value
    if no_data is not None and not isinstance(no_data, bool):
        raise node.child("no_data").error(f"expected true or false, got {show(no_data)}")
    return Alerting(
        windows=windows,
        min_events=_min_events(node.child("min_events")),
        page=page,
        ticket=ticket,
        no_data=no_data is not False,
    )


def _tier(node: Node) -> SeverityAlert:
    if node.value is None:
        return SeverityAlert()
    node.mapping(_TIER_KEYS)
    name = node.text("name", required=False)
    if name is not None and not _ALERT_NAME.fullmatch(name):
        raise node.child("name").error(
            f"expected an alert name like SearchAvailabilityPage, got {name!r}"
        )
    disable = node.child("disable").value
    if disable is not None and not isinstance(disable, bool):
        raise node.child("disable").error(f"expected true or false, got {show(disable)}")
    return SeverityAlert(
        name=name,
        labels=_strings(node.child("labels"), _FIXED_ALERT_LABELS),
        annotations=_strings(node.child("annotations"), ()),
        disable=bool(disable),
    )


def _strings(node: Node, fixed: tuple[str, ...]) -> dict[str, str]:
    if node.value is None:
        return {}
    if not isinstance(node.value, dict):
        raise node.error(f"expected a mapping of names to strings, got {show(node.value)}")
    values = {}
    for key in node.value:
        if not isinstance(key, str) or not _LABEL_NAME.fullmatch(key) or key in fixed:
            reason = f" ({', '.join(fixed)} are set by ops)" if fixed else ""
            raise node.child(str(key)).error(f"not a usable name{reason}")
        problem = label_problem(key, ()) if fixed else None  # labels, not annotations
        if problem is not None:
            raise node.child(key).error(problem)
        values[key] = node.text(key, required=False) or ""
    return values


def _min_events(node: Node) -> int:
    value = node.value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise node.error(f"expected a whole number of events (0: off), got {show(value)}")
    return value


def _check_period(slo: Node, window: Window) -> None:
    try:
        scaled_windows(window.period_seconds)
    except ValueError as error:
        raise slo.child("window").error(str(error)) from None


def _duration(node: Node, *, required: bool = True) -> int | None:
    if node.value is None:
        if required:
            raise node.error("is required")
        return None
    raw = str(node.value)
    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise node.error(f"expected a duration like 1h or 5m, got {show(node.value)}") from None
    if seconds <= 0 or seconds % 60:
        raise node.error(f"expected whole minutes, got {raw!r}")
    return int(seconds)


def _windows(node: Node, period: Window) -> tuple[BurnWindow, ...]:
    items = node.items()
    if not items:
        raise node.error("is empty; give at least one window pair or leave 'windows' out")
    pairs = []
    for item in items:
        item.mapping(_WINDOW_KEYS)
        severity = item.text("severity")
        if severity not in ("page", "ticket"):
            raise item.child("severity").error(f"expected page or ticket, got {severity!r}")
        long = _duration(item.child("long"))
        short = _duration(item.child("short"))
        assert long is not None and short is not None
        if short < MIN_WINDOW:
            raise item.child("short").error(
                f"expected at least 5m (the resolution of the recorded event counts), got "
                f"{format_duration(short)}"
            )
        if short > long:
            raise item.child("short").error(
                f"must not be longer than the long window ({format_duration(long)}), got "
                f"{format_duration(short)}"
            )
        if long > period.period_seconds:
            raise item.child("long").error(
                f"must not be longer than the SLO's {period.describe()} window, got "
                f"{format_duration(long)}"
            )
        factor_node = item.child("factor")
        factor = factor_node.value
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not math.isfinite(factor)
        ):
            raise factor_node.error(f"expected a burn rate like 14.4, got {show(factor)}")
        if factor < 1:
            raise factor_node.error(
                f"expected a burn rate of at least 1, got {factor:g}: below 1 the budget lasts "
                "the period, so the alert would fire while the SLO is met"
            )
        for_seconds = _duration(item.child("for"), required=False)
        pairs.append(
            BurnWindow(
                severity,
                long,
                short,
                float(factor),
                for_seconds if for_seconds is not None else default_for(short),
            )
        )
    return tuple(pairs)
