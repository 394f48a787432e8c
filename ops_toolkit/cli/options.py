"""Options shared by several commands, as decorators, and the printers they feed."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:  # imported where used: ``ops --help`` stays fast
    from ops_toolkit.config import OpsConfig
    from ops_toolkit.metrics.source import SourceSettings

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """``--json``: one machine-readable document on stdout instead of the terminal view."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
    )(func)


def no_password_on_command_line(
    variable: str, elsewhere: str = ""
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback refusing a URL or DSN with a password given on the command line.

    ops's command line is world-readable (``ps``, ``/proc/<pid>/cmdline``, which
    ``PR_SET_DUMPABLE`` does not cover), so every runbook step ops runs can read it from
    ``/proc/$PPID/cmdline``, in forms no masking knows (base64, reversed). The same value
    from the environment (``variable``, which steps never get) or ops.yaml is taken.
    ``elsewhere``: the other place to name, e.g. ops.yaml's key.
    """

    def refuse(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from click.core import ParameterSource

        from ops_toolkit.urls import url_passwords

        given = ctx.get_parameter_source(param.name or "") == ParameterSource.COMMANDLINE
        if value and given and url_passwords(value):
            from ops_toolkit.errors import ConfigError

            option = max(param.opts, key=len)
            raise ConfigError(
                f"{option}: the URL holds a password, and ops's command line can be read by "
                f"every local user and by every step ops runs (/proc/PID/cmdline): set "
                f"{variable} instead{f' (or {elsewhere})' if elsewhere else ''}"
            )
        return value

    return refuse


STATE_ENV = "OPS_STATE"


def state_option(func: F) -> F:
    """``--state``: the store ``ops serve`` uses, for every command that opens it."""
    return click.option(
        "--state",
        envvar="OPS_STATE",  # STATE_ENV; also for shell completion, which reads the parameter
        type=click.Path(dir_okay=False),
        metavar="PATH|URL",
        callback=no_password_on_command_line(STATE_ENV, "serve.state in ops.yaml"),
        help="The store 'ops serve' uses: a SQLite file (PATH or sqlite:PATH) or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (env OPS_STATE; default serve.state "
        "in ops.yaml, else ops-state.db). A password goes in OPS_STATE or ops.yaml, never "
        "on the command line.",
    )(func)


def serve_state(state: str | None, config: OpsConfig) -> str:
    """The store every command shares with ``ops serve``, chosen one way everywhere:
    ``--state``, else ``$OPS_STATE``, else ``serve.state`` in ops.yaml (``ops-state.db``).

    Read here rather than through click's ``envvar``, so that commands that open the store
    only for some of their options (``ops slo report --post``) choose it the same way."""
    import os

    return state or os.environ.get(STATE_ENV) or config.serve.state


def with_serve_state(config: OpsConfig, state: str | None) -> OpsConfig:
    """``config`` whose ``serve.state`` is the store ``serve_state`` chooses."""
    import dataclasses

    chosen = serve_state(state, config)
    return dataclasses.replace(config, serve=dataclasses.replace(config.serve, state=chosen))


RUNBOOKS_DIR_ENV = "OPS_RUNBOOKS_DIR"


def runbooks_dir(given: str | None = None, config_path: str | None = None) -> str:
    """The runbook folder of list, show, run, lint and completion, in the one order of
    ``settings.runbooks_folder``: ``given``, else OPS_RUNBOOKS_DIR, else ops.yaml's
    ``runbooks:``, else runbooks/."""
    import os

    from ops_toolkit.cli.settings import runbooks_folder

    path = config_path or default_config_path()
    if given or os.environ.get(RUNBOOKS_DIR_ENV) or not (path or os.path.exists("ops.yaml")):
        return runbooks_folder(given, None).value  # no ops.yaml read: completion stays fast
    from ops_toolkit.config import load_config

    return runbooks_folder(given, load_config(path)).value


def runbooks_dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        envvar=RUNBOOKS_DIR_ENV,
        type=click.Path(file_okay=False),
        help="Where runbooks are looked up by name (env OPS_RUNBOOKS_DIR; default runbooks: "
        "in ops.yaml, else runbooks/).",
    )(func)


def print_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def prometheus_option(func: F) -> F:
    return click.option(
        "--prometheus",
        "prometheus_url",
        envvar="OPS_PROMETHEUS_URL",
        metavar="URL",
        callback=no_password_on_command_line(
            "OPS_PROMETHEUS_URL", "prometheus: in ops.yaml, with basic_auth and password_env"
        ),
        help="Prometheus base URL (env OPS_PROMETHEUS_URL; default prometheus: in ops.yaml; a "
        "password goes in the variable or in ops.yaml, never on the command line).",
    )(func)


def state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        envvar="OPS_STATE_DIR",
        type=click.Path(file_okay=False),
        help="Run state and audit trail (env OPS_STATE_DIR; default ~/.local/state/ops).",
    )(func)


ALL_FORMATS = ("table", "wide", "json", "yaml", "markdown", "html")


def output_option(*formats: str) -> Callable[[F], F]:
    """``-o, --output FORMAT`` (alias ``--format``) and ``--json`` (``-o json``), as kubectl has.

    One option for every command that prints data, so ``-o`` always means a format. The
    command receives a single ``output`` argument (the first of ``formats`` by default);
    ``--json`` with a different ``-o`` is a usage error, not a silent choice.
    """
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown output formats {unknown!r}")

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(*args: Any, output: str | None, as_json: bool, **kwargs: Any) -> Any:
            if as_json and output not in (None, "json"):
                raise click.UsageError(f"--json means -o json: give one of them, not -o {output}")
            chosen = "json" if as_json else (output or formats[0])
            return func(*args, output=chosen, **kwargs)

        command = click.option("--json", "as_json", is_flag=True, help="Shorthand for -o json.")(
            command
        )
        wrapped = click.option(
            "-o",
            "--output",
            "--format",
            "output",
            type=click.Choice(formats),
            default=None,
            metavar="FORMAT",
            help=f"Output format: {', '.join(formats)} [default: {formats[0]}].",
        )(command)
        return cast(F, wrapped)

    return decorate


def print_document(document: object, output: str) -> None:
    """The machine-readable formats every data command shares: ``json`` and ``yaml``."""
    if output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(_plain(document), sort_keys=False, allow_unicode=True), nl=False)
    else:
        print_json(document)


def _plain(value: object) -> object:
    """What ``json.dumps(default=str)`` would give, as YAML-safe builtins."""
    return json.loads(json.dumps(value, default=str))


def check_writable(path: str, option: str) -> None:
    """Refuse an output file that cannot be written, before any work: a report that fails
    after the steps ran (or the queries took a minute) is found too late."""
    import os

    from ops_toolkit.errors import ConfigError

    if os.path.isdir(path):
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"{option} {path}: no such folder {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {path}: not writable (permission denied)")


def metrics_settings(url: str | None, config: OpsConfig | None) -> SourceSettings | None:
    """The metrics source a command uses: ``--prometheus``/``OPS_PROMETHEUS_URL`` if given
    (with ops.yaml's headers and credentials only when it names the same server), else
    ops.yaml's ``prometheus:``; None when neither says (``settings.prometheus_settings``)."""
    from ops_toolkit.cli.settings import prometheus_settings

    return prometheus_settings(url, config)


CONFIG_ENV = "OPS_CONFIG"


def config_option(func: F) -> F:
    """``--config``: the ops.yaml every command reads alike (``--config``, else
    ``$OPS_CONFIG``, else ./ops.yaml when present)."""
    return click.option(
        "--config",
        "config_path",
        envvar="OPS_CONFIG",  # CONFIG_ENV; also for shell completion, which reads the parameter
        type=click.Path(dir_okay=False),
        help="ops.yaml (env OPS_CONFIG; default: ./ops.yaml when present).",
    )(func)


def default_config_path() -> str | None:
    """The ops.yaml of a command without ``--config``: ``$OPS_CONFIG``, else None (then
    ./ops.yaml when present), as ``config_option`` finds it."""
    import os

    return os.environ.get(CONFIG_ENV) or None


def check_writable_dir(path: str, option: str) -> None:
    """Refuse an output folder that cannot be made or written, before any work.

    Checked by writing: a probe file in the folder, or in its nearest existing parent when
    the folder is still to be made (``os.access`` says yes to root on a read-only mount).
    Before, a file where the folder should be, or a file in the way of its path, ended in a
    traceback after the SLOs had been read and the rules generated.
    """
    import os
    import tempfile

    from ops_toolkit.errors import ConfigError

    if os.path.lexists(path) and not os.path.isdir(path):
        raise ConfigError(f"{option} {path}: is a file, not a folder")
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ConfigError(f"{option} {path}: {existing} is a file, in the way of the folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".ops-write-check-"):
            pass
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"{option} {path}: cannot write in {existing}: {reason}") from None


def source_option(func: F) -> F:
    """``--use-rules/--no-use-rules`` and ``--direct``: which source every budget read uses.

    One option for every command that reads SLO budgets (``slo report``, ``slo gate``, the
    rollout commands), so each chooses alike: by default recorded series for an SLO whose
    series exist and are fresh, direct queries otherwise. The command receives a single
    ``use_rules`` argument: True, False (``--direct`` or ``--no-use-rules``) or None.
    """

    @functools.wraps(func)
    def command(*args: Any, use_rules: bool | None, direct: bool, **kwargs: Any) -> Any:
        if direct:
            if use_rules:
                raise click.UsageError("--direct and --use-rules contradict each other")
            use_rules = False
        return func(*args, use_rules=use_rules, **kwargs)

    command = click.option(
        "--direct", is_flag=True, help="Direct queries only (the same as --no-use-rules)."
    )(command)
    wrapped = click.option(
        "--use-rules/--no-use-rules",
        default=None,
        help="Force the series 'ops slo rules' records (one query per window for all SLOs), "
        "or direct queries. Default: recorded series for each SLO whose series exist and are "
        "fresh.",
    )(command)
    return cast(F, wrapped)
