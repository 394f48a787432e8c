"""The runbook domain model: frozen values, produced by ``parse`` and read by everything else."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# An alert name as Prometheus rules spell them by convention: CamelCase, no '-' or '.'.
_ALERT_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Param:
    """A runbook parameter; reaches shell steps only as an environment variable."""

    name: str
    line: int
    default: str | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    from_label: str | None = None
    description: str = ""
    secret: bool = False

    @property
    def must_be_given(self) -> bool:
        """Required, said or implied: with ``choices`` and no default there is no value to
        fall back on (an empty one is never among the choices), so a run asks for it, as
        Rundeck's form makes you pick an allowed value and Runme prompts for an unset one."""
        return self.required or bool(self.choices and self.default is None)

    @property
    def example(self) -> str:
        """How to pass it on the command line: ``-p MODE=fast|slow``, ``-p SERVICE=...``."""
        return f"-p {self.name}={'|'.join(self.choices) if self.choices else '...'}"


@dataclass(frozen=True)
class Step:
    """One fenced block with attributes: something ``ops`` can run."""

    name: str
    kind: str
    code: str
    attributes: Mapping[str, str]
    section: tuple[str, ...]
    line: int
    end_line: int
    info_line: str = ""
    language: str = ""  # the fence's language as written; ``kind`` is what runs it
    named: bool = True  # False: the name was made from the first command, as Runme does

    def attr(self, key: str) -> str | None:
        return self.attributes.get(key)

    @property
    def tags(self) -> tuple[str, ...]:
        """ops's ``tag`` and Runme's ``category`` (what ``runme run --category`` selects),
        both comma-separated: a Runme notebook's categories are ``--tag`` values as written."""
        raw = f"{self.attributes.get('tag', '')},{self.attributes.get('category', '')}"
        return tuple(dict.fromkeys(t for t in (p.strip() for p in raw.split(",")) if t))


@dataclass(frozen=True)
class Fence:
    """A shell block without attributes: documentation to ops, a cell Runme would run."""

    language: str
    line: int
    name: str  # the name Runme gives it


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook file."""

    source: str
    sha256: str
    title: str
    owner: str = ""
    alerts: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    secrets: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # what unattended runs (ops serve) pass from the server's environment
    shell: str | None = None
    cwd: str | None = None
    steps: tuple[Step, ...] = ()
    front_matter_line: Mapping[str, int] = field(default_factory=dict)
    # Front matter keys ops does not use (Runme's, Hugo's, a team's own): kept, never an error.
    other_front_matter: Mapping[str, object] = field(default_factory=dict)
    unrun_shell_blocks: tuple[Fence, ...] = ()
    # Front matter keys whose value the parser refused (``owner``, ``params.MODE``; ``steps``
    # when a fence was refused), its error reported: lint does not also report them missing,
    # or a variable they name as unknown.
    unreadable: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """The file stem: how people and alerts refer to a runbook."""
        base = self.source.rsplit("/", 1)[-1]
        return base[:-3] if base.endswith(".md") else base

    @property
    def alert_names(self) -> tuple[str, ...]:
        """The alerts this runbook is for: its ``alerts:``, and the alert it is named after.

        prometheus-operator's runbooks are ``<component>/<AlertName>.md`` without an
        ``alerts:`` list, and kube-prometheus's ``runbook_url`` points at them by that name.
        """
        named = (self.name,) if _ALERT_NAME.fullmatch(self.name) else ()
        return self.alerts + tuple(n for n in named if n not in self.alerts)

    def step(self, reference: str) -> Step | None:
        """The step named ``reference``, else the one whose Runme ``id`` it is."""
        return next((s for s in self.steps if s.name == reference), None) or next(
            (s for s in self.steps if s.attributes.get("id") == reference), None
        )

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
