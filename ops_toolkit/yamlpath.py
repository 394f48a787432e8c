"""Reading user-written YAML with errors that name the file and the path to the bad value.

``Node`` carries a value and its path from the root (``slos[1].objective``), so every check
can say where it failed: ``slos/search.yaml: slos[1].objective: expected a number ...``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from ops_toolkit.errors import ConfigError
from ops_toolkit.suggest import did_you_mean

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 1024 * 1024


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
        value = self.value[key] if isinstance(key, int) else self.value.get(key)
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


def show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else repr(str(value))


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
        return [d for d in yaml.load_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{line}: not valid YAML: {problem}") from None
    except ValueError as exc:
        # PyYAML turns 2026-02-30 into a date and lets datetime's ValueError through.
        raise ConfigError(f"{source}: not valid YAML: a date that does not exist ({exc})") from None


def check_timezone(node: Node, name: str) -> None:
    """An IANA time zone name, or an error at ``node`` with an example."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.error(f"unknown time zone {name!r} (e.g. UTC, Europe/Berlin)") from None
