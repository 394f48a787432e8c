"""The ``ops`` command: a lazy click group so ``ops --help`` imports click and little else.

Subcommand groups are listed in ``COMMANDS`` with their one-line help and a loader function
(a registry, not string imports); a group is imported only when it is invoked. ``OpsError``
becomes ``Error: <message>`` and exit 1 here, in one place; usage errors exit 2 (click).
Ctrl-C (and a SIGTERM or SIGHUP a command turned into an interrupt) becomes one line and
exit 128 + the signal, as shells report it: 130 for Ctrl-C, 143 for SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

import click

from ops_toolkit import __version__
from ops_toolkit.errors import OpsError


def _runbook() -> click.Command:
    from ops_toolkit.cli.runbook import runbook

    return runbook


def _slo() -> click.Command:
    from ops_toolkit.cli.slo import slo

    return slo


def _serve() -> click.Command:
    from ops_toolkit.cli.serve import serve_command

    return serve_command


def _outbox() -> click.Command:
    from ops_toolkit.cli.serve import outbox

    return outbox


def _oncall() -> click.Command:
    from ops_toolkit.cli.oncall import oncall

    return oncall


def _escalation() -> click.Command:
    from ops_toolkit.cli.escalation import escalation

    return escalation


def _store() -> click.Command:
    from ops_toolkit.cli.store import store

    return store


def _rollout() -> click.Command:
    from ops_toolkit.cli.rollout import rollout

    return rollout


def _check() -> click.Command:
    from ops_toolkit.cli.check import check_command

    return check_command


def _routes() -> click.Command:
    from ops_toolkit.cli.check import routes

    return routes


def _completion() -> click.Command:
    from ops_toolkit.cli.check import completion_command

    return completion_command


class LazyCommand(NamedTuple):
    """A command's short help, shown by ``ops --help`` and completion, and how to load it.

    A NamedTuple, not a dataclass: ``ops --help`` then does not import ``dataclasses``
    (with ``inspect``, about a fifth of its start-up)."""

    help: str
    load: Callable[[], click.Command]


COMMANDS: dict[str, LazyCommand] = {
    "check": LazyCommand("Validate ops.yaml, routes, SLOs and runbooks in one pass.", _check),
    "completion": LazyCommand("Print the shell completion script (bash, zsh, fish).", _completion),
    "routes": LazyCommand("Test where alerts with given labels are routed.", _routes),
    "runbook": LazyCommand("List, lint, show and run runbooks.", _runbook),
    "slo": LazyCommand("Validate SLOs, report error budgets, gate rollouts.", _slo),
    "serve": LazyCommand("Escalate Alertmanager webhooks to Slack, durably.", _serve),
    "escalation": LazyCommand("List escalations; acknowledge, resolve, escalate now.", _escalation),
    "oncall": LazyCommand("Who is on call, handoffs, and overrides.", _oncall),
    "outbox": LazyCommand("Inspect and re-queue undelivered chat messages.", _outbox),
    "rollout": LazyCommand("Open a service stage by stage, gated on SLO evidence.", _rollout),
    "store": LazyCommand("Move ops serve's store from SQLite to PostgreSQL.", _store),
}


class OpsGroup(click.Group):
    """Loads subcommands on first use and turns ``OpsError`` into one clean line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        return entry.load() if entry else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        if name not in COMMANDS and not name.startswith("-"):
            from ops_toolkit.suggest import close_matches

            close = close_matches(name, COMMANDS)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            ctx.fail(f"No such command {name!r}{hint}. Commands: {', '.join(sorted(COMMANDS))}.")
        return super().resolve_command(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Command names with their help from ``COMMANDS``: completing ``ops <Tab>`` must not
        import every command group to ask each for its help."""
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [
            CompletionItem(name, help=COMMANDS[name].help)
            for name in sorted(COMMANDS)
            if name.startswith(incomplete)
        ]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name].help) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OpsError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(1)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(1)
        except KeyboardInterrupt as interrupt:
            _exit_interrupted(ctx, interrupt)
        except click.Abort as abort:
            if not isinstance(abort.__context__, KeyboardInterrupt):
                raise  # end of input at a prompt: click's "Aborted!", exit 1
            _exit_interrupted(ctx, abort.__context__)


INTERRUPTS = {"SIGINT": (130, "Ctrl-C"), "SIGTERM": (143, "SIGTERM"), "SIGHUP": (129, "SIGHUP")}
"""Exit code and shown name per signal. ``runbook.process.signals_interrupt`` raises
``KeyboardInterrupt('SIGTERM')`` for the signals it catches; a bare one is Ctrl-C."""


def _exit_interrupted(ctx: click.Context, interrupt: KeyboardInterrupt) -> None:
    """One line, then 128 + the signal. Before: click printed "Aborted!" and exited 1, which a
    script cannot tell from a failure."""
    name = str(interrupt.args[0]) if interrupt.args else "SIGINT"
    code, shown = INTERRUPTS.get(name, INTERRUPTS["SIGINT"])
    newline = "\n" if sys.stderr.isatty() else ""  # after the terminal's "^C"
    click.echo(f"{newline}Interrupted ({shown}).", err=True)
    ctx.exit(code)


@click.group(cls=OpsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ops")
def main() -> None:
    """ops: executable runbooks, SLO error budgets and alert escalations.

    \b
    Examples:
      ops runbook list
      ops runbook lint runbooks/
      ops runbook show search-errors
      ops slo report --prometheus http://127.0.0.1:9090
    """


def run() -> NoReturn:
    """The ``ops`` program: ``main``, then out without tearing the interpreter down.

    An ordinary exit frees every module and object ops and its libraries loaded, ~16 ms of a
    ~140 ms ``ops runbook run`` and the most variable part of it (issue 15: the noise of the
    10-step row of bench/step_overhead.py). What of an exit matters is done first, as Python
    does it: threads that are not daemons finish (a thread pool's workers told to stop
    first), ``atexit`` handlers run, stdout and stderr are flushed (a flush that fails exits
    120, as Python's own exit does). Tests call ``main`` itself.
    """
    try:
        main()
        code: int = 0
    except SystemExit as stop:
        code = _exit_code(stop)
    # As Python's own exit, in its order: the hooks threading runs first (a thread pool
    # tells its workers to stop; joined before them, they would wait for work forever), the
    # threads that are not daemons joined, then the atexit handlers.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code)


def _exit_code(stop: SystemExit) -> int:
    """The status Python would exit with: an int as is, None 0, anything else printed, 1."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    with contextlib.suppress(OSError, ValueError):
        print(stop.code, file=sys.stderr)
    return 1
