"""What a step kind gets to run a step, and what it gives back; the UI it talks to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ops_toolkit.masking import Masker
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.runbook.attributes import StepOptions
from ops_toolkit.runbook.model import Param, Runbook, Step

if TYPE_CHECKING:
    from ops_toolkit.runbook.process import HeldProcess


class RunUI(Protocol):
    """How a run talks to its operator: a terminal, or nothing (``--json``, alerts)."""

    @property
    def interactive(self) -> bool: ...

    def step_started(self, step: Step, attempt: int, attempts: int) -> None: ...

    def step_output(self, step: Step, text: str) -> None: ...

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None: ...

    def confirm(self, step: Step, question: str) -> bool: ...

    def manual(self, step: Step, instructions: str) -> bool: ...

    def ask_param(self, param: Param) -> str: ...

    def note(self, message: str) -> None: ...


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt at a step. ``stdout`` feeds ``capture``."""

    status: str
    exit_code: int | None
    output: str
    stdout: str = ""
    message: str = ""
    # Variables the step exported, for the steps after it (as a Runme session carries them).
    exports: Mapping[str, str] = field(default_factory=dict)
    # Process group of a step started with ``background``: it runs until the run ends.
    background: int | None = None


@dataclass(frozen=True)
class StepContext:
    runbook: Runbook
    options: StepOptions
    env: dict[str, str]
    params: dict[str, str]
    variables: dict[str, str]
    cwd: str | None
    ui: RunUI
    interactive: bool
    kill_grace: float
    metrics: Callable[[], MetricsSource]
    mask: Masker
    on_start: Callable[[int], None]
    # Returns once the record that the step may run (and the last step's audit line) is on
    # disk; nothing of the step may act before. ops calls it just before ``StepKind.run``,
    # unless the kind ``readies_itself`` (a shell step: started, held at its gate, then let
    # go), so that the disk's latency overlaps the shell's start-up. Idempotent.
    ready: Callable[[], None] = lambda: None
    # Where a background step's output goes: beside the run's record in the state dir (0700),
    # so it outlives the run for whoever reads the run afterwards and goes when the run's
    # state is removed; None (a plan, no run yet) for a temporary file.
    background_log: str | None = None
    # The step's shell if ops started it ahead of its turn, held at its gate (see
    # ``execute._Ahead``): given ``argv``, ``env`` and ``cwd``, the process if it is the one
    # they start (then it is the caller's to run), else None (one started otherwise is
    # killed at its gate). At most once: a retry starts its own.
    take_held: Callable[[list[str], Mapping[str, str], str | None], HeldProcess | None] = (
        lambda argv, env, cwd: None
    )
    # Called once the step's shell has been let go, if the script cannot change the
    # environment of the steps after it: starts the next step's shell ahead, held at its
    # gate; returns its pid (a child of ops that is not this step's), or None.
    start_next: Callable[[], int | None] = lambda: None
