"""The registry of step kinds: the fence languages ``ops`` can run, and how each runs.

A literal dict, so a type checker follows it and an unknown kind is an error listing its keys.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Protocol

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample, escape_promql_string
from ops_toolkit.runbook.attributes import PromqlExpect, ShellExpect
from ops_toolkit.runbook.context import Attempt, StepContext
from ops_toolkit.runbook.environment import is_ops_credential
from ops_toolkit.runbook.model import Param, Step

if TYPE_CHECKING:
    from ops_toolkit.runbook.process import HeldProcess, ProcessResult

_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class StepKind(Protocol):
    @property
    def description(self) -> str: ...

    @property
    def readies_itself(self) -> bool:
        """Whether ``run`` calls ``ctx.ready()`` itself before the step can act; if not,
        ops calls it just before ``run``."""
        ...

    def run(self, step: Step, ctx: StepContext) -> Attempt: ...

    def describe(self, step: Step, ctx: StepContext) -> str:
        """What the step would do, for ``--dry-run``."""
        ...


@dataclass(frozen=True)
class ShellKind:
    """A shell script in its own process group; values arrive only as environment variables.

    As in Runme: leading ``$ `` prompts are dropped, variables the script exports reach the
    steps after it, ``background`` starts it and goes on, ``promptEnv`` asks for unset
    variables it exports.
    """

    shell: str
    description: str
    flags: tuple[str, ...] = ("-e",)
    readies_itself: ClassVar[bool] = True

    def argv(self, step: Step, ctx: StepContext, script: str | None = None) -> list[str]:
        shell = self.shell if self.shell != "sh" else (ctx.runbook.shell or "sh")
        flags = self.flags if shell == self.shell else ("-e",)
        return [shell, *flags, "-c", shell_script(step) if script is None else script]

    def describe(self, step: Step, ctx: StepContext) -> str:
        argv = self.argv(step, ctx)
        how = f"{' '.join(argv[:-1])} <script> in {ctx.cwd or '.'}"
        asks = exported_names(step) if ctx.options.promptEnv else []
        ask = f"; asks for {', '.join(asks)} when unset (promptEnv)" if asks else ""
        if ctx.options.background:
            return f"start in the background with {how}; stopped when the run ends{ask}"
        return f"run with {how}{ask}"

    def run(self, step: Step, ctx: StepContext) -> Attempt:
        script, asked, problem = _ask_for_exports(step, ctx)
        if problem:
            return Attempt("failed", None, "", message=problem)
        env = {**ctx.env, **asked}
        if ctx.options.background:
            ctx.ready()
            return self._start_background(step, ctx, script, env)
        argv = self.argv(step, ctx, script)
        exports: dict[str, str] = {}
        # Started held at its gate while ops puts its record on disk, then let go: the
        # disk's latency overlaps the shell's start-up instead of adding to it.
        gated = can_gate(argv[0], env) and not (ctx.options.interactive and ctx.interactive)
        gate = GATE if gated else ""
        try:
            if may_change_environment(argv[0], script, env):
                with tempfile.TemporaryDirectory(prefix="ops-step-") as directory:
                    exported = os.path.join(directory, "exports")
                    argv[-1] = gate + dump_exports(exported) + script
                    result = _run_masked(step, ctx, argv, env, gated)
                    exports = read_exports(exported, ctx.env)
            else:
                argv[-1] = gate + script
                held = ctx.take_held(argv, env, ctx.cwd) if gated else None
                result = _run_masked(step, ctx, argv, env, gated, held, ctx.start_next)
        except OSError as exc:
            return Attempt("failed", None, "", message=cannot_start(self.shell, exc, ctx.cwd))
        attempt = _judge(result, ctx)
        return replace(attempt, exports=exports) if attempt.status == "succeeded" else attempt

    def start_held(self, step: Step, ctx: StepContext) -> HeldProcess | None:
        """The step's shell started ahead of its turn, held at its gate, when nothing before
        its start needs ops (no promptEnv question, no background, no terminal, no export
        dump, a shell ops can gate); else None. ``run`` takes it through ``ctx.take_held``."""
        opts = ctx.options
        if opts.background or opts.promptEnv or opts.interactive:
            return None
        script = shell_script(step)
        argv = self.argv(step, ctx, script)
        if not can_gate(argv[0], ctx.env) or may_change_environment(argv[0], script, ctx.env):
            return None
        argv[-1] = GATE + script
        from ops_toolkit.runbook.process import start_held

        try:
            return start_held(argv, env=ctx.env, cwd=ctx.cwd)
        except OSError:
            return None  # the step's own turn starts it again and reports why it cannot

    def _start_background(
        self, step: Step, ctx: StepContext, script: str, env: dict[str, str]
    ) -> Attempt:
        from ops_toolkit.runbook.background import start_background

        log = ctx.background_log or ""
        try:
            if ctx.background_log is None:
                handle, log = tempfile.mkstemp(prefix=f"ops-{step.name}-", suffix=".log")
            else:
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
                handle = os.open(log, flags, 0o600)
            os.close(handle)
        except OSError as exc:
            message = f"cannot create the step's log {log or 'in the temporary folder'}: "
            return Attempt("failed", None, "", message=message + str(exc.strerror))
        try:
            pgid = start_background(
                self.argv(step, ctx, script), env, ctx.cwd, log, ctx.mask.stream(), ctx.on_start
            )
        except OSError as exc:
            return Attempt("failed", None, "", message=cannot_start(self.shell, exc, ctx.cwd))
        return Attempt(
            "succeeded",
            None,
            f"started in the background as process group {pgid}; output in {log}\n",
            message="running in the background until the run ends",
            background=pgid,
        )


# The script's exported environment, written when it exits, for the steps after it. On the
# script's first line, so the line numbers in the shell's error messages stay the script's.
# The file is ops's own temporary path, so the step's environment stays what the
# environment models say it is.
_SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})


def dump_exports(path: str) -> str:
    """The prologue that writes the script's exported environment to ``path`` at exit."""
    import shlex

    return f"trap {shlex.quote(f'env -0 > {shlex.quote(path)}')} EXIT; "


# What a script must contain to change its exported environment, in the shells ops knows
# (sh, dash, bash): an assignment (``NAME=``, ``${NAME:=...}``, arithmetic ``++``/``--``), a
# builtin that sets or exports variables, or code read at run time (``source``, ``.``,
# ``eval``). A script with none of them (most steps: ``kubectl rollout status ...``) cannot
# export anything, so it runs without the EXIT trap, whose ``env -0`` costs a fork and an
# exec per step (as much as the step's own shell: measured in bench/step_overhead.py).
# False alarms (``--flag=x``, a comment) only cost that fork.
_MAY_SET = re.compile(
    r"=|\+\+|--|\b(?:export|declare|typeset|readonly|local|source|eval|set|shopt|read|"
    r"readarray|mapfile|getopts|printf|let|for|select|coproc|wait|alias|enable|builtin|"
    r"command)\b|(?:^|[\s;&|(){}`])\.(?:[\s;&|)}`]|$)"
)
_KNOWN_SHELLS = frozenset({"sh", "dash", "bash"})
# Files a shell reads before the script: whatever they export, ops cannot see in the text.
_STARTUP_FILES = ("BASH_ENV", "ENV")


# The first command of a gated shell step: wait for ops's word on stdin (a pipe: see
# ``process.run_process``), then take /dev/null as stdin, as every step has. ops writes the
# word once the step's record is on disk; if ops dies first, or cannot save the record, the
# pipe ends unwritten and the shell exits before the step's own first command. On the
# script's first line, so the line numbers in the shell's messages stay the script's.
GATE = "read -r _ops_gate || exit 125; exec </dev/null; unset _ops_gate; "


def can_gate(shell: str, env: Mapping[str, str]) -> bool:
    """Whether ``shell`` can be started held at ops's gate (``GATE``): a shell whose syntax
    ops knows, reading no startup file (whose commands would run before the gate)."""
    return os.path.basename(shell) in _KNOWN_SHELLS and not any(
        env.get(name) for name in _STARTUP_FILES
    )


def may_change_environment(shell: str, script: str, env: Mapping[str, str]) -> bool:
    """Whether ``script`` could export a variable (so its environment is dumped at exit)."""
    if os.path.basename(shell) not in _KNOWN_SHELLS or any(env.get(n) for n in _STARTUP_FILES):
        return True
    return _MAY_SET.search(script) is not None


_PROMPT = re.compile(r"^([ \t]*)\$ ", re.MULTILINE)
_EXPORT = re.compile(r"^[ \t]*export[ \t]+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.MULTILINE)


def shell_script(step: Step) -> str:
    """The step's code as the shell gets it: leading ``$ `` prompts dropped, as Runme does."""
    return _PROMPT.sub(r"\1", step.code)


def exported_names(step: Step) -> list[str]:
    """Names the script sets with ``export NAME=value``, in order."""
    return list(dict.fromkeys(m.group(1) for m in _EXPORT.finditer(shell_script(step))))


# ``export A=1 B``, ``declare -x A=1``, ``typeset -x A``: a statement that exports names.
_EXPORTING = re.compile(
    r"(?:^|[;&|({]|\b(?:then|do|else))[ \t]*(?:export|(?:declare|typeset)[ \t]+-\w*x\w*)"
    r"(?=[ \t])",
    re.MULTILINE,
)
_EXPORTED_WORD = re.compile(
    r"""[ \t]+(?:-\w+|([A-Za-z_][A-Za-z0-9_]*)(?:=(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s;&|)]*))?)"""
)
# A script that sets its own EXIT trap (ops's dump of its environment is gone) or replaces
# itself with another program (``exec cmd``, not ``exec >log``) hands nothing on.
_HANDS_NOTHING_ON = re.compile(
    r"\btrap\b[^\n]*\b(?:EXIT|0)\b|(?:^|[;&|({])[ \t]*exec[ \t]+(?![0-9]*[<>])[^\s;&|]",
    re.MULTILINE,
)


def carried_exports(step: Step) -> list[str]:
    """Names a step exports for the steps after it, as far as its text tells: what a run
    carries (``read_exports``) from a shell step in the foreground, minus ops's own
    credentials; a step with its own EXIT trap or an ``exec`` carries nothing. Lint reads
    this; the run itself takes the environment the script ends with."""
    if not isinstance(kind_for(step), ShellKind):
        return []
    if (step.attr("background") or "").strip().lower() in ("true", "yes", "1"):
        return []
    script = shell_script(step)
    if _HANDS_NOTHING_ON.search(script):
        return []
    names: list[str] = []
    for statement in _EXPORTING.finditer(script):
        position = statement.end()
        while word := _EXPORTED_WORD.match(script, position):
            position = word.end()
            name = word.group(1)
            if name and name not in _SHELL_OWN and not is_ops_credential(name):
                names.append(name)
    return list(dict.fromkeys(names))


def read_exports(path: str, given: Mapping[str, str]) -> dict[str, str]:
    """Variables the script exported or changed, minus the shell's own and ops's credentials."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return {}  # the script replaced itself (exec) or set its own EXIT trap
    exports = {}
    for entry in data.split(b"\0"):
        name, sep, value = entry.decode("utf-8", "replace").partition("=")
        if not sep or name in _SHELL_OWN or given.get(name) == value:
            continue
        if not is_ops_credential(name, value):  # ops's own never pass from step to step
            exports[name] = value
    return exports


def _ask_for_exports(step: Step, ctx: StepContext) -> tuple[str, dict[str, str], str | None]:
    """``promptEnv``: each unset variable the step exports is asked for at a terminal.

    The answer reaches the script as an environment variable (its ``export NAME=...`` line
    becomes ``export NAME``), never pasted into the script. A variable already set keeps its
    value. Unattended, an unset one refuses the step; ``skipPrompts: true`` in the front
    matter runs the script as written.
    """
    script = shell_script(step)
    if not ctx.options.promptEnv or ctx.runbook.other_front_matter.get("skipPrompts") is True:
        return script, {}, None
    asked: dict[str, str] = {}
    missing: list[str] = []

    def ask(match: re.Match[str]) -> str:
        name = match.group(1)
        if ctx.env.get(name) or name in asked:
            return f"export {name}"
        if not ctx.interactive:
            missing.append(name)
            return match.group(0)
        placeholder = match.group(2).strip().strip("\"'")
        param = Param(
            name,
            step.line,
            default=placeholder or None,
            description=f"step {step.name!r} exports it (promptEnv)",
        )
        asked[name] = ctx.ui.ask_param(param)
        return f"export {name}"

    script = _EXPORT.sub(ask, script)
    if missing:
        names = ", ".join(missing)
        return (
            script,
            asked,
            f"asks for {names} (promptEnv) but no one is at a terminal; set {names} in the "
            "environment, or run it at a terminal",
        )
    return script, asked, None


def _run_masked(
    step: Step,
    ctx: StepContext,
    argv: list[str],
    env: Mapping[str, str],
    gated: bool = False,
    held: HeldProcess | None = None,
    start_next: Callable[[], int | None] = lambda: None,
) -> ProcessResult:
    """Run ``argv`` for ``step``, its output shown masked as it arrives (``gated``: it
    begins with ``process.GATE``; ``held``: already started so, ``process.start_held``)."""
    from ops_toolkit.runbook.process import run_process

    live = ctx.mask.stream()  # a secret split across two reads is masked all the same

    def show(text: str) -> None:
        masked = live.feed(text)
        if masked:
            ctx.ui.step_output(step, masked)

    try:
        return run_process(
            argv,
            env=env,
            cwd=ctx.cwd,
            timeout=ctx.options.timeout,
            on_output=show,
            on_start=ctx.on_start,
            kill_grace=ctx.kill_grace,
            interactive=ctx.options.interactive and ctx.interactive,
            ready=ctx.ready,
            gated=gated,
            held=held,
            start_next=start_next,
            safe_cut=ctx.mask.safe_cut,  # the kept tail never starts inside a secret
        )
    finally:
        rest = live.flush()
        if rest:
            ctx.ui.step_output(step, rest)


def _judge(result: ProcessResult, ctx: StepContext) -> Attempt:
    """A finished process as an attempt: timed out, wrong exit code, output not as expected."""
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


def cannot_start(program: str, exc: OSError, cwd: str | None) -> str:
    """Why ``program`` did not start, naming the working directory when it is the cause
    (the OS reports a missing ``cwd`` as the program's own 'No such file or directory')."""
    if cwd and not os.path.isdir(cwd):
        why = "is not a directory" if os.path.exists(cwd) else "does not exist"
        return f"cannot start {program}: the working directory {cwd} {why}"
    return f"cannot start {program}: {exc.strerror}"


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
    readies_itself: ClassVar[bool] = False  # ops readies it before run

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
    readies_itself: ClassVar[bool] = False  # ops readies it before run

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


_SUFFIXES = {"python": ".py", "py": ".py", "javascript": ".js", "typescript": ".ts", "ruby": ".rb"}


@dataclass(frozen=True)
class InterpreterKind:
    """A block in another language, run as Runme runs it: its ``interpreter`` attribute is
    the program, given the block as a script file (in a private temporary directory)."""

    description: str = "a script in another language, run by its 'interpreter' attribute"
    readies_itself: ClassVar[bool] = False  # ops readies it before run

    def describe(self, step: Step, ctx: StepContext) -> str:
        return f"run with {step.attr('interpreter')} <script> in {ctx.cwd or '.'}"

    def run(self, step: Step, ctx: StepContext) -> Attempt:
        import shlex

        program = shlex.split(step.attr("interpreter") or "")
        language = step.language.lower()
        suffix = _SUFFIXES.get(language, f".{language}" if language.isalnum() else "")
        with tempfile.TemporaryDirectory(prefix="ops-step-") as directory:
            script = os.path.join(directory, f"{step.name}{suffix}")
            with open(script, "w", encoding="utf-8") as handle:
                handle.write(step.code)
            try:
                result = _run_masked(step, ctx, [*program, script], ctx.env)
            except OSError as exc:
                return Attempt("failed", None, "", message=cannot_start(program[0], exc, ctx.cwd))
        return _judge(result, ctx)


# Fence languages Runme runs with the shell: the same step kind as ``sh`` to ops. A fence
# without a language but with attributes is a shell step too.
SHELL_LANGUAGES = {"": "sh", "shell": "sh", "sh-raw": "sh"}

STEP_KINDS: dict[str, StepKind] = {
    "sh": ShellKind("sh", "a POSIX shell script (stops at the first failing command)"),
    "bash": ShellKind("bash", "a bash script (errexit and pipefail on)", ("-e", "-o", "pipefail")),
    "promql": PromqlKind(),
    "manual": ManualKind(),
}

INTERPRETED = InterpreterKind()


def kind_for(step: Step) -> StepKind | None:
    """How ``step`` runs: its kind, else its ``interpreter``; None when ops cannot run it."""
    kind = STEP_KINDS.get(step.kind)
    if kind is None and step.attr("interpreter"):
        return INTERPRETED
    return kind


def not_runnable(step: Step) -> str:
    """Why ``step`` cannot run, and what would make it run."""
    return (
        f"ops does not run {step.language or step.kind!r} blocks; give the step an "
        '"interpreter" attribute (the program that runs it, e.g. '
        f'"interpreter":"{_EXAMPLE_INTERPRETERS.get(step.kind, step.kind)}")'
    )


_EXAMPLE_INTERPRETERS = {
    "python": "python3",
    "py": "python3",
    "js": "node",
    "javascript": "node",
    "ts": "deno run",
    "typescript": "deno run",
}
