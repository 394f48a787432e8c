"""The Alertmanager webhook payload (version 4): validation into frozen values. Pure.

Alert label and annotation values are hostile input: they are kept as text and only ever
escaped for display, never interpreted.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ops_toolkit import strictjson
from ops_toolkit.errors import PayloadError

PLACE = "POST /alertmanager"
_TIME = re.compile(
    r"^([0-9]{4}-[0-9][0-9]-[0-9][0-9][Tt ][0-9][0-9]:[0-9][0-9]:[0-9][0-9])(\.[0-9]+)?([Zz]|[+-][0-9][0-9]:[0-9][0-9])$"
)
STATUSES = ("firing", "resolved")
MAX_CACHED_TIME = 64  # characters: longer "times" are parsed (and refused) uncached
MAX_TRUNCATED = 1_000_000_000  # Alertmanager counts alerts left out; more is not a count
# A decoded string holds a UTF-16 surrogate only from a \u escape (UTF-8 cannot carry one):
# a body without such an escape needs no look at its strings. A pair (an emoji written
# escaped) decodes to one character; a lone one is not text and cannot be stored or posted.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def event_key(self, group_key: str) -> str:
        """One alert event: the same group, alert, status and start, however often it arrives."""
        raw = f"{group_key}\x1f{self.fingerprint}\x1f{self.status}\x1f{self.starts_at:.3f}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Notification:
    group_key: str
    status: str
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0

    @property
    def alert_name(self) -> str:
        return self.common_labels.get("alertname") or (self.alerts[0].name if self.alerts else "")

    def labels(self) -> Mapping[str, str]:
        """The labels routing looks at: common labels, else the first alert's."""
        return self.common_labels or (self.alerts[0].labels if self.alerts else {})

    def event_keys(self) -> list[str]:
        return [a.event_key(self.group_key) for a in self.alerts]

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]


def _fail(path: str, message: str) -> PayloadError:
    return PayloadError(f"{PLACE}: {path}: {message}" if path else f"{PLACE}: {message}")


def _text(data: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = data.get(key)
    if type(value) is str:  # the common case first: every webhook parses this many times
        return value
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            raise _fail(where, "is required")
        return ""
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {type(value).__name__}")
    return value


_STRINGS = {str}


def _labels(data: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
    value = data.get(key)
    if value is None:
        return {}
    where = f"{path}.{key}" if path else key
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object of strings, got {type(value).__name__}")
    if not set(map(type, value.values())) <= _STRINGS:  # the loop below only to say where
        for name, item in value.items():
            if not isinstance(item, str):
                raise _fail(f"{where}.{name}", f"expected a string, got {type(item).__name__}")
    return dict(value)


def parse_time(text: str, path: str) -> float:
    """RFC 3339 with up to nanoseconds, as Alertmanager writes it; a ValueError names it."""
    seconds = _seconds(text)
    if isinstance(seconds, str):
        raise _fail(path, seconds)
    return seconds


def _seconds(text: str) -> float | str:
    """A time's seconds, or why it is not one. Cached: the alerts of a group share their
    times, and Alertmanager's zero time ends every firing alert (issue 15: parsing is
    the intake's work per request). Only short texts are kept: a time is at most 35
    characters, and a hostile body's megabyte-long "times" must not fill the memory."""
    return _cached_seconds(text) if len(text) <= MAX_CACHED_TIME else _parse_seconds(text)


def _parse_seconds(text: str) -> float | str:
    match = _TIME.match(text)
    if not match:
        return f"not an RFC 3339 time: {text!r}"
    fraction = (match.group(2) or "")[:7]
    zone = match.group(3).upper().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(f"{match.group(1).replace(' ', 'T')}{fraction}{zone}")
    except ValueError:
        return f"not an RFC 3339 time: {text!r}"
    try:
        return moment.astimezone(UTC).timestamp()
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        return f"time out of range (years 1 to 9999 in UTC): {text!r}"


_cached_seconds = functools.lru_cache(maxsize=4096)(_parse_seconds)


def _alert(data: Any, path: str) -> Alert:
    if not isinstance(data, dict):
        raise _fail(path, "expected an object")
    status = _text(data, "status", path)
    if status not in STATUSES:
        raise _fail(f"{path}.status", f"expected firing or resolved, got {status!r}")
    labels = _labels(data, "labels", path)
    if not labels:
        raise _fail(f"{path}.labels", "is required and must not be empty")
    starts_at = _seconds(_text(data, "startsAt", path))
    if isinstance(starts_at, str):
        raise _fail(f"{path}.startsAt", starts_at)
    ends_text = _text(data, "endsAt", path, required=False)
    ends_at = _seconds(ends_text) if ends_text else None
    if isinstance(ends_at, str):
        raise _fail(f"{path}.endsAt", ends_at)
    if ends_at is not None and ends_at <= 0:
        ends_at = None  # Alertmanager's zero time: not ended
    fingerprint = (
        _text(data, "fingerprint", path, required=False)
        or hashlib.sha256(
            "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items())).encode()
        ).hexdigest()[:16]
    )
    return Alert(
        status=status,
        labels=labels,
        annotations=_labels(data, "annotations", path),
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=_text(data, "generatorURL", path, required=False),
        fingerprint=fingerprint,
    )


def decode_body(text: str, *, repair: bool = False) -> Any:
    """The webhook body's JSON; ``PayloadError`` says why not, and names the field that
    holds a lone surrogate (``"\\ud800"``): such a string once failed later, as a 500 or a
    message dead-lettered after its retries, never posted.

    ``repair``: for a body already accepted (a stored payload, from before intake refused
    lone surrogates): each lone surrogate becomes U+FFFD, as Go's encoding/json (so
    Alertmanager itself) reads ``"\\ud800"``, and the payload goes out with "�" in that
    label value instead of never. Only a body where that would make two keys of one
    object the same cannot be repaired: ``PayloadError`` naming the key.

    The surrogate check costs one regex scan of the text; the strings are looked at only
    when the text has a surrogate escape at all (rare: Alertmanager writes UTF-8).
    """
    try:
        data = strictjson.loads(text)
    except strictjson.DuplicateKeyError as exc:
        raise _fail("", f"body is not JSON this server accepts: {exc}") from None
    except RecursionError:
        raise _fail("", "body is not JSON this server accepts: nested too deep") from None
    except ValueError as exc:
        raise _fail("", f"body is not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) is not None:
        if repair:
            return _replace_surrogates(data)
        where = _lone_surrogate(data)
        if where is not None:
            raise _fail(where, "not text: a lone UTF-16 surrogate (a \\u escape without its pair)")
    return data


def _replace_surrogates(data: Any) -> Any:
    """``data`` (freshly decoded, so changed in place) with each lone surrogate of its keys
    and strings replaced by U+FFFD; iterative, as the body may be nested as deep as the
    decoder allows. Two keys of one object that become the same: ``PayloadError``."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            items = list(value.items())
            value.clear()
            for key, item in items:
                where = f"{path}.{_shown(key)}" if path else _shown(key)
                repaired = _SURROGATE.sub("\ufffd", key)
                if repaired in value:
                    raise _fail(
                        where,
                        "not text: a lone UTF-16 surrogate (a \\u escape without its pair) "
                        "that cannot be replaced with U+FFFD: the object has that key already",
                    )
                value[repaired] = _SURROGATE.sub("\ufffd", item) if isinstance(item, str) else item
                if isinstance(item, dict | list):
                    stack.append((where, item))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    value[index] = _SURROGATE.sub("\ufffd", item)
                elif isinstance(item, dict | list):
                    stack.append((f"{path}[{index}]", item))
    return data


def _lone_surrogate(data: Any) -> str | None:
    """The path of the first key or string value holding a surrogate, if any (iterative:
    the body may be nested as deep as the decoder allows)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path or "(the body)"
        elif isinstance(value, dict):
            items = []
            for key, item in value.items():
                where = f"{path}.{_shown(key)}" if path else _shown(key)
                if _SURROGATE.search(key):
                    return where
                items.append((where, item))
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return None


def _shown(key: str) -> str:
    """A key as a path names it: a surrogate written as its escape (it cannot be sent)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def parse_notification(data: Any) -> Notification:
    """Validate a decoded webhook body; ``PayloadError`` names the field path."""
    if not isinstance(data, dict):
        raise _fail("", "expected a JSON object")
    version = data.get("version")
    if version != "4":
        raise _fail("version", f'expected "4" (Alertmanager webhook v4), got {version!r}')
    status = _text(data, "status", "")
    if status not in STATUSES:
        raise _fail("status", f"expected firing or resolved, got {status!r}")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise _fail("alerts", "expected a non-empty list")
    truncated = data.get("truncatedAlerts", 0)
    if (
        not isinstance(truncated, int)
        or isinstance(truncated, bool)
        or not 0 <= truncated <= MAX_TRUNCATED
    ):
        shown = repr(truncated) if len(repr(truncated)) <= 40 else f"{repr(truncated)[:37]}..."
        raise _fail(
            "truncatedAlerts", f"expected a whole number from 0 to {MAX_TRUNCATED}, got {shown}"
        )
    return Notification(
        group_key=_text(data, "groupKey", ""),
        status=status,
        receiver=_text(data, "receiver", "", required=False),
        group_labels=_labels(data, "groupLabels", ""),
        common_labels=_labels(data, "commonLabels", ""),
        common_annotations=_labels(data, "commonAnnotations", ""),
        external_url=_text(data, "externalURL", "", required=False),
        alerts=tuple(_alert(item, f"alerts[{i}]") for i, item in enumerate(alerts)),
        truncated_alerts=truncated,
    )
