"""Step attributes: what each means, how its value is checked, and the typed options they make.

``ATTRIBUTES`` is the registry lint checks against; ``step_options`` turns a step's raw strings
into ``StepOptions`` for the executor, raising the same messages lint reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ops_toolkit.durations import parse_duration, shorten
from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.expr import ExpressionError, Node, parse_expression
from ops_toolkit.runbook.model import Step

_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_COMPARISON = re.compile(
    r"\s*(<=|>=|==|!=|<|>)\s*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*"
)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class PromqlExpect:
    """``expect`` of a promql step: every sample satisfies ``op value``; ``empty`` allows none."""

    op: str | None
    value: float | None
    allow_empty: bool

    def holds(self, sample: float) -> bool:
        if self.op is None or self.value is None:
            return False
        return {
            "<": sample < self.value,
            "<=": sample <= self.value,
            ">": sample > self.value,
            ">=": sample >= self.value,
            "==": sample == self.value,
            "!=": sample != self.value,
        }[self.op]


@dataclass(frozen=True)
class ShellExpect:
    """``expect`` of a shell step: an exit code, or a regex the output must match."""

    exit_code: int | None
    pattern: re.Pattern[str] | None


def _bool(value: str, kind: str) -> object:
    if value.strip().lower() not in _BOOLS:
        raise ValueError(f"expected true or false, got {value!r}")
    return _BOOLS[value.strip().lower()]


def _prompt(value: str, kind: str) -> object:
    """Runme's ``promptEnv``: yes/always/auto ask for an unset variable, no/never do not."""
    word = value.strip().lower()
    if word in ("auto", "always"):
        return True
    if word == "never":
        return False
    if word not in _BOOLS:
        raise ValueError(f"expected yes, no or auto, got {value!r}")
    return _BOOLS[word]


def _duration(value: str, kind: str) -> object:
    return parse_duration(value)


def _count(value: str, kind: str) -> object:
    if not re.fullmatch(r"\s*[0-9]+\s*", value):
        raise ValueError(f"expected a whole number, got {shorten(value)!r}")
    if len(value.strip()) > 6:  # int() refuses over 4,300 digits; no one retries a million times
        raise ValueError(f"expected a whole number up to 999999, got {shorten(value)!r}")
    return int(value)


def _text(value: str, kind: str) -> object:
    return value


def _kebab(value: str, kind: str) -> object:
    return value


def _env_name(value: str, kind: str) -> object:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(f"expected a variable name like OUTPUT_NAME, got {value!r}")
    return value


def _program(value: str, kind: str) -> object:
    import shlex

    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"not a command line: {exc}") from None
    if not words:
        raise ValueError("name the program that runs the block, e.g. 'python3'")
    return value


def _when(value: str, kind: str) -> object:
    try:
        return parse_expression(value)
    except ExpressionError as exc:
        raise ValueError(f"bad expression {shorten(value, 60)!r}: {exc}") from None


def _expect(value: str, kind: str) -> object:
    if kind == "promql":
        return parse_promql_expect(value)
    if kind == "manual":
        raise ValueError("manual steps have nothing to check")
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,3}", text):
        return ShellExpect(int(text), None)
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        try:
            return ShellExpect(None, re.compile(text[1:-1], re.MULTILINE))
        except re.error as exc:
            raise ValueError(f"bad regular expression {text}: {exc}") from None
    raise ValueError(f"expected an exit code (e.g. '0') or /regex/, got {value!r}")


def parse_promql_expect(value: str) -> PromqlExpect:
    parts = [p.strip() for p in re.split(r"\bor\b", value)]
    allow_empty = False
    op: str | None = None
    number: float | None = None
    for part in parts:
        if part == "empty":
            allow_empty = True
            continue
        match = _COMPARISON.fullmatch(part)
        if not match or op is not None:
            raise ValueError(
                f"expected a comparison like '< 0.05', 'empty', or '< 0.05 or empty', got {value!r}"
            )
        op, number = match.group(1), float(match.group(2))
    return PromqlExpect(op, number, allow_empty)


@dataclass(frozen=True)
class Attribute:
    description: str
    check: Callable[[str, str], object]


ATTRIBUTES: dict[str, Attribute] = {
    "name": Attribute("unique kebab-case step name", _kebab),
    "tag": Attribute("comma-separated tags, e.g. diagnose", _text),
    "confirm": Attribute("ask before running (true/false)", _bool),
    "timeout": Attribute("kill the step after this long, e.g. 5m", _duration),
    "retries": Attribute("extra attempts after a failure", _count),
    "retry_delay": Attribute("wait between attempts, e.g. 10s", _duration),
    "expect": Attribute("exit code, /regex/ on output, or a promql comparison", _expect),
    "capture": Attribute("store stdout in this variable for later steps", _env_name),
    "when": Attribute("run only when this expression holds", _when),
    "on_failure": Attribute("step to run when this one fails", _text),
    "cwd": Attribute("working directory", _text),
    "interactive": Attribute("attach the terminal (true/false)", _bool),
    "interpreter": Attribute("the program that runs a block in another language", _program),
    "background": Attribute("start the step and go on; stopped when the run ends", _bool),
    "promptEnv": Attribute("ask for an unset variable the step exports (yes/no/auto)", _prompt),
}

# Runme's own attributes: valid in a runbook, without meaning to ops but ``category``,
# which ops reads as tags (``Step.tags``).
RUNME_ATTRIBUTES = frozenset(
    {
        "id",
        "closeTerminalOnSuccess",
        "excludeFromRunAll",
        "mimeType",
        "terminalRows",
        "category",
        "skipPrompts",
    }
)


@dataclass(frozen=True)
class StepOptions:
    """A step's attributes as typed values, with the defaults filled in."""

    confirm: bool = False
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 0.0
    expect: ShellExpect | PromqlExpect | None = None
    capture: str | None = None
    when: Node | None = None
    on_failure: str | None = None
    cwd: str | None = None
    interactive: bool = False
    interpreter: str | None = None
    background: bool = False
    promptEnv: bool = False


def check_attribute(key: str, value: str, kind: str) -> object:
    """The typed value of one attribute; ValueError with the reason when it is wrong."""
    return ATTRIBUTES[key].check(value, kind)


def step_options(step: Step, source: str) -> StepOptions:
    """Typed options of ``step``; a ``RunbookError`` naming the place for a bad value."""
    values: dict[str, object] = {}
    for key, raw in step.attributes.items():
        if key not in ATTRIBUTES or key in ("name", "tag"):
            continue
        try:
            values[key] = check_attribute(key, raw, step.kind)
        except ValueError as exc:
            raise RunbookError.at(source, step.line, f"step {step.name!r}: {key}: {exc}") from None
    return StepOptions(**values)  # type: ignore[arg-type]
