"""Rollout plans (``rollouts/*.yaml``): spec read into a frozen model, with path-precise errors.

A plan lists a service's stages in order. Entering a stage runs its runbook once the stage's
checks hold, and have held for the whole ``soak`` before now (the worst value over the soak
window is what is compared, so a stage that dipped yesterday waits).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ops_toolkit.durations import parse_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.yamlpath import Node, parse_documents, read_text, show

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SLO_KEY = re.compile(r"^[^/\s]+/[^/\s]+$")
THRESHOLD = re.compile(r"^\s*(<=|>=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$")
STATUSES = ("exhausted", "critical", "warning", "ok", "no_data")
DEFAULT_SOAK_STEP = 3600


@dataclass(frozen=True)
class Threshold:
    """``>= 50%``: an ordering comparison; percentages are kept as fractions."""

    op: str
    value: float
    text: str

    def holds(self, observed: float) -> bool:
        return {
            "<": observed < self.value,
            "<=": observed <= self.value,
            ">": observed > self.value,
            ">=": observed >= self.value,
        }[self.op]

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">", ">=")


@dataclass(frozen=True)
class Check:
    """One condition a stage needs. ``kind`` is a key of ``CHECK_KINDS``."""

    name: str
    kind: str
    path: str
    slo: str | None = None
    service: str | None = None
    query: str | None = None
    threshold: Threshold | None = None
    window: int | None = None  # sli: the window the SLI is measured over
    statuses: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "budget_remaining":
            return f"{self.slo} budget remaining {self.threshold_text}"
        if self.kind == "sli":
            window = f" over {_span(self.window)}" if self.window else ""
            return f"{self.slo} SLI{window} {self.threshold_text}"
        if self.kind == "not_status":
            return f"no SLO of {self.service} {' or '.join(self.statuses)}"
        return f"{self.query} {self.threshold_text}"

    @property
    def threshold_text(self) -> str:
        return self.threshold.text if self.threshold else ""


@dataclass(frozen=True)
class RunbookCall:
    """A runbook (name in the plan's runbooks directory, or a path) and its params."""

    name: str
    params: Mapping[str, str] = field(default_factory=dict)
    path: str = ""  # the YAML path of the runbook's name, for errors (stages[0].runbook.name)


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    runbook: RunbookCall | None
    checks: tuple[Check, ...] = ()
    soak: int = 0  # seconds the previous stage must have held the checks
    rollback: RunbookCall | None = None


@dataclass(frozen=True)
class RolloutPlan:
    name: str
    service: str
    description: str
    source: str
    stages: tuple[Stage, ...]
    channel: str | None = None
    slos: tuple[str, ...] = ("slos",)
    runbooks: str = "runbooks"
    soak_step: int = DEFAULT_SOAK_STEP

    @property
    def history_path(self) -> str:
        """``rollouts/<plan>.history.jsonl``: beside the plan, meant to be committed."""
        return os.path.join(os.path.dirname(self.source), f"{self.name}.history.jsonl")

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        from ops_toolkit.suggest import did_you_mean

        names = [s.name for s in self.stages]
        raise ConfigError(f"{self.source}: no stage {name!r}{did_you_mean(name, names)}")

    def index(self, name: str | None) -> int:
        """Position of stage ``name``; -1 before the first stage."""
        return -1 if name is None else [s.name for s in self.stages].index(name)


def _span(seconds: int | None) -> str:
    from ops_toolkit.durations import format_duration

    return format_duration(seconds or 0)


def _duration(node: Node, *, minimum: int = 0) -> int:
    text = node.value
    if not isinstance(text, str | int) or isinstance(text, bool):
        raise node.error(f"expected a duration like 7d or 12h, got {show(text)}")
    try:
        seconds = parse_duration(str(text))
    except ValueError as exc:
        raise node.error(str(exc)) from None
    if seconds < minimum or seconds > 400 * 86400:
        raise node.error(f"expected a duration between {_span(minimum)} and 400d, got {text!r}")
    return int(seconds)


def parse_threshold(node: Node, *, percent_allowed: bool) -> Threshold:
    text = node.value
    if not isinstance(text, str):
        raise node.error(f"expected a comparison like '>= 50%', got {show(text)}")
    match = THRESHOLD.fullmatch(text)
    if not match:
        example = "'>= 50%' or '>= 0.5'" if percent_allowed else "'< 0.05'"
        raise node.error(f"expected a comparison like {example}, got {text!r}")
    op, number, pct = match.groups()
    value = float(number)
    if pct:
        if not percent_allowed:
            raise node.error(f"a percentage needs an SLO check; write a number, got {text!r}")
        value /= 100.0
    elif percent_allowed and value > 1:
        raise node.error(f"expected a fraction in [0, 1] or a percentage (did you mean {number}%?)")
    return Threshold(op, value, text.strip())


def _budget_check(node: Node, name: str) -> Check:
    node.mapping(("name", "slo", "budget_remaining"))
    return Check(
        name,
        "budget_remaining",
        node.path,
        slo=_slo_key(node),
        threshold=parse_threshold(node.child("budget_remaining"), percent_allowed=True),
    )


def _sli_check(node: Node, name: str) -> Check:
    node.mapping(("name", "slo", "sli", "window"))
    window = _duration(node.child("window"), minimum=300) if node.has("window") else None
    return Check(
        name,
        "sli",
        node.path,
        slo=_slo_key(node),
        threshold=parse_threshold(node.child("sli"), percent_allowed=True),
        window=window,
    )


def _status_check(node: Node, name: str) -> Check:
    node.mapping(("name", "not_status", "service"))
    statuses: list[str] = []
    for item in node.child("not_status").items():
        if item.value not in STATUSES:
            raise item.error(f"expected one of {', '.join(STATUSES)}, got {show(item.value)}")
        statuses.append(str(item.value))
    if not statuses:
        raise node.child("not_status").error("must name at least one status")
    return Check(
        name, "not_status", node.path, service=node.text("service"), statuses=tuple(statuses)
    )


def _promql_check(node: Node, name: str) -> Check:
    node.mapping(("name", "promql", "expect"))
    query = node.text("promql")
    assert query is not None
    return Check(
        name,
        "promql",
        node.path,
        query=query,
        threshold=parse_threshold(node.child("expect"), percent_allowed=False),
    )


def _slo_key(node: Node) -> str:
    key = node.text("slo")
    assert key is not None
    if not SLO_KEY.fullmatch(key):
        raise node.child("slo").error(f"expected SERVICE/SLO like search/availability, got {key!r}")
    return key


# The key that tells a check's kind -> its reader (a registry, not string dispatch).
CHECK_KINDS: dict[str, Callable[[Node, str], Check]] = {
    "budget_remaining": _budget_check,
    "sli": _sli_check,
    "not_status": _status_check,
    "promql": _promql_check,
}


def _check(node: Node, index: int) -> Check:
    if not isinstance(node.value, dict):
        raise node.error(f"expected a mapping, got {show(node.value)}")
    kinds = [k for k in CHECK_KINDS if k in node.value]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        raise node.error(f"give exactly one of {', '.join(CHECK_KINDS)}{found}")
    name = node.text("name", required=False) or f"{kinds[0].replace('_', '-')}-{index + 1}"
    if not NAME.fullmatch(name):
        raise node.child("name").error(f"expected a kebab-case name, got {name!r}")
    return CHECK_KINDS[kinds[0]](node, name)


def _runbook_call(node: Node) -> RunbookCall:
    if isinstance(node.value, str):
        return RunbookCall(node.value.strip(), path=node.path)
    node.mapping(("name", "params"))
    params: dict[str, str] = {}
    if node.has("params"):
        raw = node.child("params")
        if not isinstance(raw.value, dict):
            raise raw.error(f"expected a mapping of NAME: value, got {show(raw.value)}")
        for key in raw.value:
            value = raw.child(str(key))
            if not isinstance(key, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                raise value.error("param names are UPPER_SNAKE_CASE")
            text = value.value
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                raise value.error(f"expected a string, got {show(text)}")
            params[key] = str(text)
    name = node.text("name")
    assert name is not None
    return RunbookCall(name, params, path=node.child("name").path)


def _path(node: Node) -> str:
    if not isinstance(node.value, str) or not node.value.strip():
        raise node.error(f"expected a path, got {show(node.value)}")
    return node.value.strip()


def _stage(node: Node, seen: set[str]) -> Stage:
    node.mapping(("name", "description", "runbook", "checks", "soak", "rollback"))
    name = node.text("name")
    assert name is not None
    if not NAME.fullmatch(name):
        raise node.child("name").error(f"expected a kebab-case name, got {name!r}")
    if name in seen:
        raise node.child("name").error(f"stage {name!r} is defined twice")
    seen.add(name)
    soak = _duration(node.child("soak")) if node.has("soak") else 0
    checks = (
        tuple(_check(c, i) for i, c in enumerate(node.child("checks").items()))
        if node.has("checks")
        else ()
    )
    names = [c.name for c in checks]
    for number, check in enumerate(checks):
        if names.index(check.name) != number:
            raise node.child("checks").child(number).error(f"check {check.name!r} twice")
    return Stage(
        name=name,
        description=node.text("description", required=False, default="") or "",
        runbook=_runbook_call(node.child("runbook")) if node.has("runbook") else None,
        checks=checks,
        soak=soak,
        rollback=_runbook_call(node.child("rollback")) if node.has("rollback") else None,
    )


def parse_plan(text: str, source: str) -> RolloutPlan:
    """A plan from YAML ``text``; ``source`` names the file in every error."""
    documents = parse_documents(text, source)
    if len(documents) != 1:
        raise ConfigError(f"{source}: expected one YAML document, got {len(documents)}")
    root = Node(documents[0], "", source).mapping(
        (
            "version",
            "kind",
            "name",
            "service",
            "description",
            "channel",
            "slos",
            "runbooks",
            "soak_step",
            "stages",
        )
    )
    version = root.text("version")
    if version != "ops/v1":
        raise root.child("version").error(f"expected 'ops/v1', got {version!r}")
    kind = root.text("kind")
    if kind != "Rollout":
        raise root.child("kind").error(f"expected 'Rollout', got {kind!r}")
    stem = os.path.splitext(os.path.basename(source))[0]
    name = root.text("name", required=False, default=stem) or stem
    if not NAME.fullmatch(name):
        raise root.child("name").error(f"expected a kebab-case name, got {name!r}")
    channel = root.text("channel", required=False)
    if channel is not None and not re.fullmatch(r"[#@]?[A-Za-z0-9._-]{1,80}", channel):
        raise root.child("channel").error(f"expected a channel like #search, got {channel!r}")
    seen: set[str] = set()
    stage_nodes = root.child("stages").items()
    if not stage_nodes:
        raise root.child("stages").error("a plan needs at least one stage")
    stages = tuple(_stage(n, seen) for n in stage_nodes)
    slos = tuple(_path(i) for i in root.child("slos").items()) if root.has("slos") else ("slos",)
    return RolloutPlan(
        name=name,
        service=root.text("service") or "",
        description=root.text("description", required=False, default="") or "",
        source=source,
        stages=stages,
        channel=channel,
        slos=slos,
        runbooks=root.text("runbooks", required=False, default="runbooks") or "runbooks",
        soak_step=_duration(root.child("soak_step"), minimum=60)
        if root.has("soak_step")
        else DEFAULT_SOAK_STEP,
    )


def load_plan(reference: str, directory: str = "rollouts") -> RolloutPlan:
    """A plan by path, or by name in ``directory`` (``rollouts/<name>.yaml``)."""
    path = reference
    if not os.path.exists(path) and os.sep not in reference and not reference.endswith(".yaml"):
        path = os.path.join(directory, f"{reference}.yaml")
    if not os.path.exists(path):
        raise ConfigError(
            f"{path}: file not found (give a plan's path, or its name in {directory}/)"
        )
    return parse_plan(read_text(path), path)
