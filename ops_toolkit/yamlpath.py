"""Reading user-written YAML with errors that name the file and the path to the bad value.

``Node`` carries a value and its path from the root (``slos[1].objective``), so every check
can say where it failed: ``slos/search.yaml: slos[1].objective: expected a number ...``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from ops_toolkit.durations import (
    MAX_SECONDS,
    DurationTooLong,
    format_duration,
    parse_duration,
    shorten,
)
from ops_toolkit.errors import ConfigError
from ops_toolkit.suggest import did_you_mean

MAX_BYTES = 1024 * 1024


class SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (C when available) whose scalars fail as YAML errors with a line.

    PyYAML converts ``int``, ``float`` and ``timestamp`` scalars with Python's own
    constructors, so an integer over Python's 4,300-digit limit, a date like ``2026-13-01``
    or ``!!timestamp`` on a non-date raised a bare ValueError or AttributeError (a
    traceback) instead of a YAML error naming the line.
    """


def _checked(
    kind: str, construct: Callable[[Any, Any], Any]
) -> Callable[[SafeLoader, yaml.Node], Any]:
    def constructor(loader: SafeLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError, TypeError, AttributeError):
            text = str(node.value)
            if kind == "integer":
                digits = sum(c.isdigit() for c in text)
                problem = (
                    f"an integer of {digits} digits is too long "
                    f"(at most {sys.get_int_max_str_digits()})"
                )
            else:
                shown = text if len(text) <= 40 else f"{text[:40]}..."
                problem = f"not a valid {kind}: {shown!r}"
            raise ConstructorError(None, None, problem, node.start_mark) from None

    return constructor


def _unique_keys(loader: SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    """A mapping whose own keys are unique: PyYAML keeps the last of two equal keys silently,
    so a second ``objective:`` further down a file would win unseen. Keys brought in by a
    ``<<`` merge may still be overridden, as YAML intends."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DuplicateKey(key, seen[key], key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


class DuplicateKey(ConstructorError):
    """A mapping names ``key`` twice; ``first`` is the 0-based line of the first one, for
    readers whose YAML starts further down a file (a runbook's front matter)."""

    def __init__(self, key: Any, first: int, mark: Any) -> None:
        self.key = key
        self.first = first
        super().__init__(None, None, self.problem_at(1), mark)

    def problem_at(self, offset: int) -> str:
        return f"duplicate key {show(self.key)} (first given at line {self.first + offset})"


SafeLoader.construct_mapping = _unique_keys

for _tag, _kind in (("int", "integer"), ("float", "number"), ("timestamp", "date or time")):
    _tag = f"tag:yaml.org,2002:{_tag}"
    SafeLoader.add_constructor(_tag, _checked(_kind, SafeLoader.yaml_constructors[_tag]))


# A few hundred bytes of aliases of aliases expand to billions of values (a "billion laughs"),
# and one long string aliased a few hundred times to gigabytes (a 100 KB scalar aliased 199
# times as labels made 'ops slo rules' write a 2.6 GB file): every reader, and every message
# that shows a value, would write them all out. So the guard counts characters, not values.
# A file may use aliases to share values, so the bound grows with the text.
MAX_EXPANDED_CHARACTERS = 200_000
EXPANDED_CHARACTERS_PER_CHARACTER = 8


def alias_limit(text: str) -> int:
    """The most characters the YAML ``text`` may expand to through its aliases."""
    return MAX_EXPANDED_CHARACTERS + EXPANDED_CHARACTERS_PER_CHARACTER * len(text)


def _scalar_size(value: Any) -> int:
    """The characters a scalar is written with, at least 1: a string's length, an integer's
    digits (estimated from its bits: str() of a huge integer costs more than the count)."""
    if isinstance(value, str | bytes):
        return max(1, len(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, value.bit_length() * 3 // 10 + 1)
    return 1


def expanded_size(value: Any, limit: int) -> int:
    """How many characters ``value`` holds with every YAML alias written out (each scalar
    its length, each list or mapping one more), counted without writing them out: each
    shared list or mapping is counted once and its size reused, and a shared string is
    one object whose length is read again. More than ``limit`` once it exceeds it, or when
    an alias makes a cycle."""
    if not isinstance(value, list | dict):
        return _scalar_size(value)
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        current, finished = stack.pop()
        key = id(current)
        children = [*current.keys(), *current.values()] if isinstance(current, dict) else current
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(
                sizes[id(child)] if isinstance(child, list | dict) else _scalar_size(child)
                for child in children
            )
            if sizes[key] > limit:
                return sizes[key]
            continue
        if key in sizes:
            continue
        if key in on_path:
            return limit + 1
        on_path.add(key)
        stack.append((current, True))
        stack.extend((child, False) for child in children if isinstance(child, list | dict))
    return sizes[id(value)]


@dataclass(frozen=True)
class Node:
    """A YAML value and its path from the root, for messages that point at it."""

    value: Any
    path: str
    source: str

    def error(self, message: str) -> ConfigError:
        where = self.path or "(top)"
        return ConfigError(f"{self.source}: {where}: {message}")

    def child(self, key: str | int) -> Node:
        """The value at ``key`` (None when absent); an error here when this is not a container.

        A key looked up in nothing (``spec:`` left empty) is absent; in a scalar or a list
        it is a wrong type at this node, reported as such rather than as an AttributeError.
        """
        if isinstance(key, int):
            if not isinstance(self.value, list):
                raise self.error(f"expected a list, got {show(self.value)}")
            value = self.value[key]
        elif self.value is None:
            value = None
        elif not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {show(self.value)}")
        else:
            value = self.value.get(key)
        path = (
            f"{self.path}[{key}]"
            if isinstance(key, int)
            else (f"{self.path}.{key}" if self.path else key)
        )
        return Node(value, path, self.source)

    def mapping(self, allowed: Iterable[str]) -> Node:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {show(self.value)}")
        allowed = list(allowed)
        for key in self.value:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                raise self.child(str(key)).error(
                    f"unknown key{hint}; valid keys: {', '.join(allowed)}"
                )
        return self

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def text(self, key: str, *, required: bool = True, default: str | None = None) -> str | None:
        node = self.child(key)
        if node.value is None:
            if required:
                raise node.error("is required")
            return default
        if not isinstance(node.value, str | int | float) or isinstance(node.value, bool):
            raise node.error(f"expected a string, got {show(node.value)}")
        text = str(node.value).strip()
        if required and not text:
            raise node.error("must not be empty")
        return text

    def items(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {show(self.value)}")
        return [self.child(i) for i in range(len(self.value))]


def positive_duration(node: Node, *, limit: float = MAX_SECONDS) -> float:
    """Seconds in ``node``'s value: a duration longer than 0 and at most ``limit``, written
    ``30s``, ``1h30m`` or as a number of seconds. The one check of every duration that must
    be positive (ops.yaml's, the on-call file's): each field once had its own, and a string
    skipped the positivity and limit checks (``busy_timeout: 0s`` passed where ``0`` was
    refused, and a store whose every write gave up at once was a config away)."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        shown = str(value).lower() if isinstance(value, bool) else show(value)
        raise node.error(f"expected a duration like 30s or 5m, got {shown}")
    text = (value if isinstance(value, str) else str(value)).strip()
    shown = shorten(repr(value))
    try:
        seconds = parse_duration(text)
    except DurationTooLong:
        seconds = math.inf
    except ValueError as exc:
        if not _below_zero(text):
            raise node.error(str(exc)) from None
        seconds = -1.0  # '-5s': the same refusal as '-5' and '0s', not "not a duration"
    if seconds <= 0:
        raise node.error(f"expected a duration longer than 0, got {shown}")
    if seconds > limit:
        raise node.error(f"duration too long: {shown} (at most {format_duration(limit)})")
    return seconds


def _below_zero(text: str) -> bool:
    """Whether ``text`` is a duration with a minus sign before it (``-5s``, ``-0ms``)."""
    if not text.startswith("-"):
        return False
    try:
        parse_duration(text[1:])
    except DurationTooLong:
        return True
    except ValueError:
        return False
    return True


def show(value: Any) -> str:
    """``value`` for a message: its kind for containers, else its text cut to 40 characters."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return repr(f"{str(value)[:40]}...")  # also under Python's 4,300-digit limit
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= 40 else f"{text[:40]}...")


def read_text(path: str) -> str:
    """A definitions file's text; size and encoding problems name the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: file is larger than 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: file is not valid UTF-8") from None
    return text


def parse_documents(text: str, source: str) -> list[Any]:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        number = text[: exc.start].count("\n") + 1
        raise ConfigError(
            f"{source}:{number}: text is not valid Unicode (a lone surrogate)"
        ) from None
    try:
        documents = [d for d in yaml.load_all(text, Loader=SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{line}: not valid YAML: {problem}") from None
    except ValueError as exc:
        # PyYAML turns 2026-02-30 into a date and lets datetime's ValueError through.
        raise ConfigError(f"{source}: not valid YAML: a date that does not exist ({exc})") from None
    if "*" in text:  # an alias: no '*', no alias, nothing to count
        limit = alias_limit(text)
        if sum(expanded_size(d, limit) for d in documents) > limit:
            raise ConfigError(
                f"{source}: YAML aliases expand to more than {limit:,} characters; write the "
                "values out (an alias of an alias of a list multiplies it, an alias of a long "
                "string repeats it)"
            )
    return documents


def check_timezone(node: Node, name: str) -> None:
    """An IANA time zone name, or an error at ``node`` with an example."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.error(f"unknown time zone {name!r} (e.g. UTC, Europe/Berlin)") from None


_PATH_PART = re.compile(r"\[([0-9]+)\]|\.?([^.\[\]]+)")


def line_of(text: str, path: str) -> int | None:
    """The 1-based line where the value at ``path`` (``slos[1]``, ``[2].spec.sli``) starts.

    Models keep YAML paths, not lines; a message that sends a person to the file reads
    better as ``file:line``. A leading ``[n]`` in a file of several documents picks the
    document. None when the text or the path does not lead anywhere (never an error: the
    line is a courtesy on top of the path).
    """
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    parts = [(int(i) if i else None, key) for i, key in _PATH_PART.findall(path)]
    if len(documents) > 1 and parts and parts[0][0] is not None:
        index = parts.pop(0)[0]
        assert index is not None
        node: yaml.Node | None = documents[index] if index < len(documents) else None
    else:
        node = documents[0] if documents else None
    for index, key in parts:
        if isinstance(node, yaml.SequenceNode) and index is not None:
            node = node.value[index] if index < len(node.value) else None
        elif isinstance(node, yaml.MappingNode) and key:
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        else:
            node = None
        if node is None:
            return None
    return None if node is None else node.start_mark.line + 1
