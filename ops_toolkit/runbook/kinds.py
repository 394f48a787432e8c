"""The registry of step kinds: the fence languages ``ops`` can run, and how each runs.

A literal dict, so a type checker follows it and an unknown kind is an error listing its keys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample, escape_promql_string
from ops_toolkit.runbook.attributes import PromqlExpect, ShellExpect
from ops_toolkit.runbook.context import Attempt, StepContext
from ops_toolkit.runbook.model import Step

_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class StepKind(Protocol):
    @property
    def description(self) -> str: ...

    def run(self, step: Step, ctx: StepContext) -> Attempt: ...

    def describe(self, step: Step, ctx: StepContext) -> str:
        """What the step would do, for ``--dry-run``."""
        ...


@dataclass(frozen=True)
class ShellKind:
    """A shell script in its own process group; values arrive only as environment variables."""

    shell: str
    description: str
    flags: tuple[str, ...] = ("-e",)

    def argv(self, step: Step, ctx: StepContext) -> list[str]:
        shell = self.shell if self.shell != "sh" else (ctx.runbook.shell or "sh")
        flags = self.flags if shell == self.shell else ("-e",)
        return [shell, *flags, "-c", step.code]

    def describe(self, step: Step, ctx: StepContext) -> str:
        argv = self.argv(step, ctx)
        return f"run with {' '.join(argv[:-1])} <script> in {ctx.cwd or '.'}"

    def run(self, step: Step, ctx: StepContext) -> Attempt:
        from ops_toolkit.runbook.process import run_process

        live = ctx.mask.stream()  # a secret split across two reads is masked all the same

        def show(text: str) -> None:
            masked = live.feed(text)
            if masked:
                ctx.ui.step_output(step, masked)

        try:
            result = run_process(
                self.argv(step, ctx),
                env=ctx.env,
                cwd=ctx.cwd,
                timeout=ctx.options.timeout,
                on_output=show,
                on_start=ctx.on_start,
                kill_grace=ctx.kill_grace,
                interactive=ctx.options.interactive and ctx.interactive,
            )
        except OSError as exc:
            return Attempt("failed", None, "", message=f"cannot start {self.shell}: {exc.strerror}")
        finally:
            rest = live.flush()
            if rest:
                ctx.ui.step_output(step, rest)
        output = ctx.mask(result.output)
        if result.timed_out:
            limit = format_duration(ctx.options.timeout or 0)
            return Attempt("timed_out", None, output, result.stdout, f"timed out after {limit}")
        expect = ctx.options.expect
        wanted = 0
        if isinstance(expect, ShellExpect) and expect.exit_code is not None:
            wanted = expect.exit_code
        if result.exit_code != wanted:
            return Attempt(
                "failed",
                result.exit_code,
                output,
                result.stdout,
                f"exit code {result.exit_code}" + (f" (expected {wanted})" if wanted else ""),
            )
        if (
            isinstance(expect, ShellExpect)
            and expect.pattern is not None
            and not expect.pattern.search(result.output)
        ):
            return Attempt(
                "failed",
                result.exit_code,
                output,
                result.stdout,
                f"output does not match /{expect.pattern.pattern}/",
            )
        return Attempt("succeeded", result.exit_code, output, result.stdout)


def substitute_params(query: str, params: Mapping[str, str]) -> str:
    """``$NAME`` of a param replaced by its value escaped for a PromQL string literal."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return escape_promql_string(params[name]) if name in params else match.group(0)

    return _REFERENCE.sub(replace, query)


def format_samples(samples: list[Sample]) -> str:
    if not samples:
        return "(no samples)\n"
    rows = [(s.label_text(), _format_value(s.value)) for s in samples]
    width = max(len(r[0]) for r in rows)
    return "".join(f"{labels.ljust(width)}  {value}\n" for labels, value in rows)


def _format_value(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.6g}"


@dataclass(frozen=True)
class PromqlKind:
    """An instant query; ``expect`` is a comparison every sample must satisfy."""

    description: str = "an instant query against Prometheus, shown as a table"

    def describe(self, step: Step, ctx: StepContext) -> str:
        return f"query Prometheus: {substitute_params(step.code, ctx.params).strip()}"

    def run(self, step: Step, ctx: StepContext) -> Attempt:
        query = substitute_params(step.code, ctx.params)
        try:
            samples = ctx.metrics().query(query)
        except MetricsError as exc:  # may quote the query, secret params substituted
            return Attempt("failed", None, ctx.mask(f"{exc}\n"), message=ctx.mask(str(exc)))
        table = ctx.mask(format_samples(samples))  # labels can echo a secret param back
        ctx.ui.step_output(step, table)
        stdout = _format_value(samples[0].value) if len(samples) == 1 else table
        expect = ctx.options.expect
        if isinstance(expect, PromqlExpect):
            problem = _check_samples(samples, expect, step.attr("expect") or "")
            if problem:
                return Attempt("failed", None, table, stdout, problem)
        return Attempt("succeeded", None, table, stdout)


def _check_samples(samples: list[Sample], expect: PromqlExpect, raw: str) -> str | None:
    if not samples:
        return None if expect.allow_empty else f"no samples; expected {raw}"
    if expect.op is None:
        return f"{len(samples)} sample(s); expected empty"
    bad = [s for s in samples if math.isnan(s.value) or not expect.holds(s.value)]
    if bad:
        first = bad[0]
        return (
            f"{len(bad)} of {len(samples)} sample(s) fail '{raw}', e.g. "
            f"{first.label_text()} = {_format_value(first.value)}"
        )
    return None


@dataclass(frozen=True)
class ManualKind:
    """Instructions a person follows; unattended it waits (``pending_manual``)."""

    description: str = "instructions a person follows, then confirms"

    def describe(self, step: Step, ctx: StepContext) -> str:
        return "ask a person to follow the instructions and confirm"

    def run(self, step: Step, ctx: StepContext) -> Attempt:
        text = ctx.mask(_display(step.code, ctx.variables))
        if not ctx.interactive:
            ctx.ui.step_output(step, text)
            return Attempt(
                "pending_manual",
                None,
                text,
                message="waiting for a person; run it on a terminal or resume the run there",
            )
        if ctx.ui.manual(step, text):
            return Attempt("succeeded", None, text, message="done")
        return Attempt("skipped", None, text, message="skipped by the operator")


def _display(text: str, variables: Mapping[str, str]) -> str:
    """Instructions with known ``$NAME`` filled in: for reading only, never executed."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


STEP_KINDS: dict[str, StepKind] = {
    "sh": ShellKind("sh", "a POSIX shell script (stops at the first failing command)"),
    "bash": ShellKind("bash", "a bash script (errexit and pipefail on)", ("-e", "-o", "pipefail")),
    "promql": PromqlKind(),
    "manual": ManualKind(),
}
