"""The runbook domain model: frozen values, produced by ``parse`` and read by everything else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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

    def attr(self, key: str) -> str | None:
        return self.attributes.get(key)

    @property
    def tags(self) -> tuple[str, ...]:
        raw = self.attributes.get("tag", "")
        return tuple(t for t in (p.strip() for p in raw.split(",")) if t)


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

    @property
    def name(self) -> str:
        """The file stem: how people and alerts refer to a runbook."""
        base = self.source.rsplit("/", 1)[-1]
        return base[:-3] if base.endswith(".md") else base

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
