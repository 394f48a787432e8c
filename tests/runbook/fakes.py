"""A scripted operator for runbook runs: records what it is shown, answers as told."""

from __future__ import annotations

from dataclasses import dataclass, field

from ops_toolkit.runbook.model import Param, Step


@dataclass
class ScriptedUI:
    interactive: bool = False
    confirm_answers: list[bool] = field(default_factory=list)
    manual_answers: list[bool] = field(default_factory=list)
    param_answers: dict[str, str] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)

    def step_started(self, step: Step, attempt: int, attempts: int) -> None:
        self.shown.append(f"start {step.name} {attempt}/{attempts}")

    def step_output(self, step: Step, text: str) -> None:
        self.shown.append(text)

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None:
        self.finished.append((step.name, status))

    def confirm(self, step: Step, question: str) -> bool:
        return self.confirm_answers.pop(0)

    def manual(self, step: Step, instructions: str) -> bool:
        self.shown.append(instructions)
        return self.manual_answers.pop(0)

    def ask_param(self, param: Param) -> str:
        return self.param_answers[param.name]

    def note(self, message: str) -> None:
        self.shown.append(message)
