"""The registry of step kinds: the fence languages ``ops`` can run.

A literal dict, so a type checker follows it and an unknown kind is an error listing its keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class StepKind(Protocol):
    """What a step kind declares: what it does and which attributes mean something to it."""

    @property
    def description(self) -> str: ...

    @property
    def runs_shell(self) -> bool: ...


@dataclass(frozen=True)
class ShellKind:
    shell: str
    description: str
    runs_shell: bool = True


@dataclass(frozen=True)
class PromqlKind:
    description: str = "an instant query against Prometheus, shown as a table"
    runs_shell: bool = False


@dataclass(frozen=True)
class ManualKind:
    description: str = "instructions a person follows, then confirms"
    runs_shell: bool = False


STEP_KINDS: dict[str, StepKind] = {
    "sh": ShellKind("sh", "a POSIX shell script"),
    "bash": ShellKind("bash", "a bash script (errexit and pipefail on)"),
    "promql": PromqlKind(),
    "manual": ManualKind(),
}
