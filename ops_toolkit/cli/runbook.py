"""``ops runbook ...``: thin commands over ``ops_toolkit.runbook``."""

from __future__ import annotations

from typing import Any

import click

from ops_toolkit.cli import complete
from ops_toolkit.cli.options import (
    RUNBOOKS_DIR_ENV,
    check_writable,
    config_option,
    default_config_path,
    json_option,
    output_option,
    print_document,
    print_json,
    prometheus_option,
    runbooks_dir,
    runbooks_dir_option,
    state_dir_option,
)


@click.group()
def runbook() -> None:
    """List, lint, show and run runbooks (Markdown with step blocks).

    \b
    Examples:
      ops runbook list
      ops runbook run search-errors --tag diagnose
    """


@runbook.command("list")
@click.argument("directory", default="runbooks", envvar=RUNBOOKS_DIR_ENV, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 when a file is not a valid runbook.")
@output_option("table", "wide", "json", "yaml")
def list_command(directory: str, strict: bool, output: str) -> None:
    """List the runbooks in DIRECTORY (default runbooks/).

    Files that are not valid runbooks are reported on stderr and left out; the others are
    listed all the same (exit 1 only with --strict).

    \b
    Examples:
      ops runbook list --json
    """
    from ops_toolkit.runbook.catalog import read_runbooks
    from ops_toolkit.runbook.view import LIST_COLUMNS, LIST_DROP_ORDER, list_table, runbook_summary

    runbooks, errors = read_runbooks([directory])
    if output in ("json", "yaml"):
        print_document([runbook_summary(r) for r in runbooks], output)
    else:
        from ops_toolkit.cli.tables import print_fitted

        print_fitted(
            lambda columns: list_table(runbooks, columns),
            LIST_COLUMNS,
            LIST_DROP_ORDER,
            wide=output == "wide",
            spare=16,
        )
    for error in errors:
        click.echo(f"not listed: {error}", err=True)
    if errors:
        click.echo(
            f"{len(errors)} file(s) are not valid runbooks; see: ops runbook lint {directory}",
            err=True,
        )
    if errors and strict:
        raise SystemExit(1)


@runbook.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@output_option("table", "json", "yaml")
def lint_command(paths: tuple[str, ...], strict: bool, output: str) -> None:
    """Check runbooks for errors and hazards (default: the folder list and show read,
    OPS_RUNBOOKS_DIR, else runbooks/).

    Each finding is 'path:line: level: message' (error, warning or note). Exit 1 on errors
    (and warnings with --strict); notes never fail.

    \b
    Examples:
      ops runbook lint runbooks/search-errors.md --strict
    """
    from ops_toolkit.runbook.catalog import lint_paths

    findings = lint_paths(paths or (runbooks_dir(),), credential_variables())
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    notes = len(findings) - errors - warnings
    if output != "table":
        print_document([f.as_dict() for f in findings], output)
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{errors} error(s), {warnings} warning(s), {notes} note(s)", err=True)
    if errors or (strict and warnings):
        raise SystemExit(1)


@runbook.command("show")
@click.argument("reference", metavar="RUNBOOK", shell_complete=complete.runbook_names)
@runbooks_dir_option
@output_option("table", "json", "yaml")
def show_command(reference: str, directory: str, output: str) -> None:
    """Show RUNBOOK (a path, a name in --dir, or an alert a runbook there claims): sections,
    steps and params.

    \b
    Examples:
      ops runbook show restart-after-outage
    """
    from ops_toolkit.runbook.catalog import load_runbook
    from ops_toolkit.runbook.view import runbook_document, show_renderables

    loaded = load_runbook(reference, directory)
    if output != "table":
        print_document(runbook_document(loaded), output)
        return
    from rich.console import Console

    console = Console()
    for part in show_renderables(loaded):
        console.print(part)


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="-p")
        params[key] = value
    return params


def _runbook_source(prometheus_url: str | None) -> Any:
    """``--prometheus``, with ./ops.yaml's ``prometheus:`` (headers, credentials) when present,
    as ``ops slo report`` reads it by default."""
    from ops_toolkit.cli.options import metrics_settings
    from ops_toolkit.config import load_config

    return metrics_settings(prometheus_url, load_config(default_config_path()))


def _require_prometheus(steps: Any, source: Any) -> None:
    """No Prometheus URL while a promql step is to run: the error now, as params and
    --report are checked, not a run recorded as failed at its first query."""
    if source is None and any(step.kind == "promql" for step in steps):
        from ops_toolkit.runbook.execute import no_metrics

        no_metrics()


def _steps_left(record: Any, runbook: Any) -> list[Any]:
    """The steps of ``record``'s plan a resume goes through (not yet done)."""
    from ops_toolkit.runbook.state import DONE

    left = (runbook.step(n) for n in record.plan if record.steps[n].status not in DONE)
    return [step for step in left if step is not None]


def credential_variables() -> frozenset[str]:
    """The variables ops's configuration (ops.yaml and its on-call file) reads credentials
    from: the one set ``ops serve`` and ``ops check`` use (``configured_credential_variables``)."""
    from ops_toolkit.config import configured_credential_variables, load_config
    from ops_toolkit.errors import OpsError

    try:
        config = load_config(default_config_path())
    except OpsError:  # ops check's to report; 'ops runbook lint' still lints
        return frozenset()
    return configured_credential_variables(config)


def _world(
    *, as_json: bool, non_interactive: bool, state_dir: str | None, prometheus_url: Any
) -> Any:
    """``prometheus_url``: a URL or ``SourceSettings`` (headers and credentials): the
    secrets it points at are masked in all a run writes and withheld from its steps."""
    import getpass
    import os
    import socket

    from ops_toolkit.cli.terminal import make_ui
    from ops_toolkit.metrics.model import MetricsSource
    from ops_toolkit.metrics.source import SourceSettings, known_secrets
    from ops_toolkit.runbook.audit import AuditLog
    from ops_toolkit.runbook.environment import (
        ops_credentials,
        person_environment,
        url_credentials,
    )
    from ops_toolkit.runbook.execute import World, no_metrics
    from ops_toolkit.runbook.guard import forbid_inspection
    from ops_toolkit.runbook.state import StateStore, default_state_dir

    directory = state_dir or default_state_dir()
    cache: list[MetricsSource] = []
    settings = SourceSettings(prometheus_url) if isinstance(prometheus_url, str) else prometheus_url
    # ops's own secret variables: the on-call file's routing keys, the metrics source's auth
    named = credential_variables() | frozenset(settings.secret_env_names() if settings else ())

    def metrics() -> MetricsSource:
        if not settings:
            return no_metrics()
        if not cache:
            from ops_toolkit.metrics.prometheus import open_source

            cache.append(open_source(settings, os.environ))
        return cache[0]

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER", "unknown")
    forbid_inspection()  # the credentials held back from steps stay out of their reach
    return World(
        ui=make_ui(as_json=as_json, non_interactive=non_interactive),
        store=StateStore(directory),
        audit=AuditLog(os.path.join(directory, "audit.jsonl")),
        metrics=metrics,
        env=person_environment(os.environ, named),
        credentials={
            **ops_credentials(os.environ, named),
            **url_credentials("--prometheus", settings.url if settings else None),
            **known_secrets(settings, os.environ),
        },
        credential_variables=named,
        user=user,
        host=socket.gethostname(),
    )


def _finish(
    record: Any,
    runbook: Any,
    world: Any,
    as_json: bool,
    report: str | None,
    signals: list[int] | None = None,
) -> None:
    """Report, print and exit: 0 succeeded, 128 + the signal when one stopped the run (130
    for Ctrl-C, as shells do), else 1."""
    from ops_toolkit.runbook.execute import run_document

    document = run_document(record)
    if report:
        from ops_toolkit.errors import RunbookError
        from ops_toolkit.files import PRIVATE_MODE, write_atomically
        from ops_toolkit.runbook.report import render_markdown

        try:  # it holds the steps' output: as private as the run state (0600)
            text = render_markdown(document, record, runbook.title or runbook.name)
            write_atomically(report, text, mode=PRIVATE_MODE)
        except OSError as exc:
            raise RunbookError(
                f"{report}: cannot write the report: {exc.strerror}; the run itself is "
                f"recorded: ops runbook runs {record.run_id}"
            ) from None
    if as_json:
        print_json(document)
    else:
        from ops_toolkit.cli.terminal import summary_table

        world.ui.console.print(summary_table(document))
    if record.status != "succeeded":
        click.echo(
            f"Run {record.status}. Resume with: ops runbook resume {record.run_id}", err=True
        )
        raise SystemExit(128 + signals[0] if signals and record.status == "aborted" else 1)


def _run_options(func: Any) -> Any:
    for decorator in reversed(
        [
            click.option("--yes", is_flag=True, help="Run steps marked confirm without asking."),
            click.option(
                "--non-interactive", is_flag=True, help="Never prompt (as under cron or an alert)."
            ),
            click.option("--keep-going", is_flag=True, help="Go on after a failed step."),
            click.option(
                "--report",
                type=click.Path(dir_okay=False),
                help="Write a Markdown run report to this file.",
            ),
            prometheus_option,
            state_dir_option,
            json_option,
        ]
    ):
        func = decorator(func)
    return func


@runbook.command("run")
@click.argument("reference", metavar="RUNBOOK", shell_complete=complete.runbook_names)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A param value (repeatable).",
)
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="NAME",
    shell_complete=complete.step_names,
    help="Run only this step (repeatable).",
)
@click.option(
    "--from",
    "from_step",
    metavar="NAME",
    shell_complete=complete.step_names,
    help="Start at this step.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    shell_complete=complete.step_tags,
    help="Run only steps with this tag (repeatable).",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would run, with its environment; run nothing."
)
@runbooks_dir_option
@_run_options
def run_command(
    reference: str,
    params: tuple[str, ...],
    steps: tuple[str, ...],
    from_step: str | None,
    tags: tuple[str, ...],
    dry_run: bool,
    directory: str,
    yes: bool,
    non_interactive: bool,
    keep_going: bool,
    report: str | None,
    prometheus_url: str | None,
    state_dir: str | None,
    as_json: bool,
) -> None:
    """Run RUNBOOK step by step (a path, a name in --dir, or an alert a runbook there claims).

    Params reach shell steps only as environment variables. Steps marked confirm ask first
    (unattended: skipped as needs_confirmation unless --yes). Exit 0 only when the run
    succeeded; otherwise it can be resumed.

    \b
    Examples:
      ops runbook run search-errors --tag diagnose --non-interactive
      ops runbook run add-document-source -p SOURCE_NAME=wiki \\
        -p SOURCE_URL=https://wiki.example
    """
    import os

    from ops_toolkit.runbook.catalog import load_runbook
    from ops_toolkit.runbook.execute import RunOptions, start_run
    from ops_toolkit.runbook.execute import dry_run as plan_run

    if report and not dry_run:
        check_writable(report, "--report")
    loaded = load_runbook(reference, directory)
    options = RunOptions(
        params=_parse_params(params),
        steps=steps,
        from_step=from_step,
        tags=tags,
        yes=yes,
        keep_going=keep_going,
        kill_grace=float(os.environ.get("OPS_KILL_GRACE", "5")),
    )
    source = _runbook_source(prometheus_url)
    if not dry_run:
        from ops_toolkit.runbook.execute import plan_steps

        _require_prometheus(plan_steps(loaded, options), source)
    world = _world(
        as_json=as_json,
        non_interactive=non_interactive,
        state_dir=state_dir,
        prometheus_url=source,
    )
    if dry_run:
        planned = plan_run(loaded, options, world)
        if as_json:
            print_json(
                {"runbook": loaded.source, "dry_run": True, "steps": [vars(p) for p in planned]}
            )
            return
        from ops_toolkit.cli.terminal import dry_run_text

        scripts = {s.name: s.code for s in loaded.steps if s.kind in _SHOWN_SCRIPTS}
        click.echo(dry_run_text(loaded.source, planned, scripts), nl=False)
        return
    from ops_toolkit.runbook.process import signals_interrupt

    with signals_interrupt() as received:  # SIGTERM, SIGHUP: stop the step, record it aborted
        record = start_run(loaded, options, world)
    _finish(record, loaded, world, as_json, report, received)


_SHOWN_SCRIPTS = ("sh", "bash", "manual")
"""Step kinds whose text a dry run prints under the action (a promql action is its query)."""


@runbook.command("resume")
@click.argument("run_id", shell_complete=complete.run_ids)
@click.option("--allow-changed", is_flag=True, help="Resume even if the runbook file changed.")
@click.option(
    "--rerun-unknown",
    is_flag=True,
    help="Run again a step that may have run (ops stopped before recording its outcome).",
)
@click.option("--skip-unknown", is_flag=True, help="Count such a step as done and go on after it.")
@_run_options
def resume_command(
    run_id: str,
    allow_changed: bool,
    rerun_unknown: bool,
    skip_unknown: bool,
    yes: bool,
    non_interactive: bool,
    keep_going: bool,
    report: str | None,
    prometheus_url: str | None,
    state_dir: str | None,
    as_json: bool,
) -> None:
    """Continue run RUN_ID from its first step that did not succeed (a run that succeeded:
    says so, and runs and audits nothing).

    Same params and captured variables as the original run; secrets are read from the
    environment again. A step that may have run when ops was killed (started, outcome not
    recorded) is not run again unless you say so: --rerun-unknown or --skip-unknown.

    \b
    Examples:
      ops runbook resume 20261129T031500Z-1a2b3c --yes
    """
    from ops_toolkit.runbook.execute import RunOptions, resume_run
    from ops_toolkit.runbook.parse import read_runbook

    if rerun_unknown and skip_unknown:
        raise click.UsageError("give --rerun-unknown or --skip-unknown, not both")
    if report:
        check_writable(report, "--report")
    source = _runbook_source(prometheus_url)
    world = _world(
        as_json=as_json,
        non_interactive=non_interactive,
        state_dir=state_dir,
        prometheus_url=source,
    )
    record = world.store.load(run_id)
    loaded = read_runbook(record.runbook)
    left = _steps_left(record, loaded)
    if record.status == "succeeded" and not left:  # a run that did nothing is not audited
        click.echo(f"Run {run_id} already succeeded: nothing to resume.", err=True)
        _finish(record, loaded, world, as_json, report)
        return
    _require_prometheus(left, source)
    options = RunOptions(
        yes=yes,
        keep_going=keep_going or bool(record.options.get("keep_going")),
        allow_changed=allow_changed,
        rerun_unknown=rerun_unknown,
        skip_unknown=skip_unknown,
    )
    from ops_toolkit.runbook.process import signals_interrupt

    with signals_interrupt() as received:
        record = resume_run(record, loaded, options, world)
    _finish(record, loaded, world, as_json, report, received)


@runbook.command("runs")
@click.argument("run_id", required=False, shell_complete=complete.run_ids)
@state_dir_option
@output_option("table", "wide", "json", "yaml")
def runs_command(run_id: str | None, state_dir: str | None, output: str) -> None:
    """List past runs, or show RUN_ID: each step's output (masked) between its start and
    end times.

    Says on stderr where it looked (--state-dir, else OPS_STATE_DIR, else
    ~/.local/state/ops). A damaged state file is named on stderr (exit 1); the other runs
    are listed.

    \b
    Examples:
      ops runbook runs
      ops runbook runs 20261129T031500Z-1a2b3c -o yaml
    """
    from ops_toolkit.runbook.execute import run_document
    from ops_toolkit.runbook.state import StateStore

    directory, origin = _state_dir_origin(state_dir)
    store = StateStore(directory)
    if run_id:
        document = run_document(store.load(run_id))
        if output in ("json", "yaml"):
            print_document(document, output)
        else:
            from ops_toolkit.cli.terminal import run_log

            click.echo(run_log(document), nl=False)
        return
    records, damaged = store.scan()
    documents = [run_document(r) for r in records]
    if output in ("json", "yaml"):
        keys = ("run_id", "runbook", "user", "started_at", "status")
        print_document([{k: d[k] for k in keys} for d in documents], output)
    else:
        from ops_toolkit.cli.tables import print_fitted
        from ops_toolkit.cli.terminal import RUNS_COLUMNS, RUNS_DROP_ORDER, runs_table

        print_fitted(
            lambda columns: runs_table(documents, columns),
            RUNS_COLUMNS,
            RUNS_DROP_ORDER,
            wide=output == "wide",
            spare=20,
        )
        click.echo(f"{len(documents)} run(s) in {directory} ({origin})", err=True)
    for problem in damaged:  # listed, not hidden: someone has to repair or remove it
        click.echo(f"Error: {problem}", err=True)
    if damaged:
        raise SystemExit(1)


def _state_dir_origin(state_dir: str | None) -> tuple[str, str]:
    """The state folder and where that choice came from, so an empty list is not a mystery."""
    from click.core import ParameterSource

    from ops_toolkit.runbook.state import default_state_dir

    source = click.get_current_context().get_parameter_source("state_dir")
    if state_dir and source == ParameterSource.ENVIRONMENT:
        return state_dir, "from OPS_STATE_DIR"
    if state_dir:
        return state_dir, "from --state-dir"
    return default_state_dir(), "the default; set OPS_STATE_DIR or --state-dir to look elsewhere"


@runbook.command("audit")
@click.argument("run_id", required=False, shell_complete=complete.run_ids)
@click.option(
    "--prune",
    is_flag=True,
    help="Remove the lines of finished runs older than --older-than (or ops.yaml's "
    "runbook.audit_retention); runs in progress or resumable keep theirs.",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    help="With --prune: how old a finished run's last line must be, e.g. 90d.",
)
@state_dir_option
@config_option
@output_option("table", "json", "yaml")
def audit_command(
    run_id: str | None,
    prune: bool,
    older_than: str | None,
    state_dir: str | None,
    config_path: str | None,
    output: str,
) -> None:
    """Show the audit trail (every run's start, steps and end), or only RUN_ID's; or prune it.

    A damaged line (a writer killed mid-line) is skipped and named on stderr. When nothing
    is found it says which file it read (--state-dir, else OPS_STATE_DIR, else
    ~/.local/state/ops); a RUN_ID that is no run is an error, as in 'runs' and 'resume'.

    --prune removes every line of each run whose last line is older than --older-than
    (else ops.yaml's runbook.audit_retention), but for runs in progress, failed, aborted
    or waiting (resumable), which keep theirs whatever their age. It runs only when asked,
    never during a run; the trail is rewritten beside itself and renamed over, holding the
    lock runs append under, so a run appending meanwhile loses nothing.

    \b
    Examples:
      ops runbook audit 20261129T031500Z-1a2b3c -o json
      ops runbook audit --prune --older-than 90d
    """
    import os

    from ops_toolkit.runbook.audit import AuditLog
    from ops_toolkit.runbook.state import StateStore

    directory, origin = _state_dir_origin(state_dir)
    path = os.path.join(directory, "audit.jsonl")
    if prune or older_than is not None:
        _prune_audit(run_id, prune, older_than, path, directory, config_path, output)
        return
    trail = AuditLog(path).read()
    events = [e for e in trail.events if run_id is None or e.get("run_id") == run_id]
    if run_id and not events:
        StateStore(directory).load(run_id)  # no such run: the same error as runs and resume
    if not events:  # an empty answer names the file it read, as 'runs' does
        of_run = f" of run {run_id}" if run_id else ""
        click.echo(f"no audit records{of_run} in {path} ({origin})", err=True)
    if output != "table":
        print_document(events, output)
    else:
        for event in events:
            fields = (event.get(k) for k in ("time", "run_id", "event", "step", "status"))
            click.echo("  ".join(str(value) for value in fields if value is not None))
    for problem in trail.damaged:
        click.echo(f"warning: {problem}", err=True)


def _prune_audit(
    run_id: str | None,
    prune: bool,
    older_than: str | None,
    path: str,
    directory: str,
    config_path: str | None,
    output: str,
) -> None:
    import time

    from ops_toolkit.config import load_config
    from ops_toolkit.durations import format_duration, parse_duration
    from ops_toolkit.runbook.audit import AuditLog
    from ops_toolkit.runbook.state import StateStore

    if not prune:
        raise click.UsageError("--older-than is for --prune: give both")
    if run_id is not None:
        raise click.UsageError(f"--prune works on the whole trail: leave out {run_id}")
    if older_than is not None:
        try:
            retention = parse_duration(older_than)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from None
        if retention <= 0:
            raise click.BadParameter("give a duration longer than 0", param_hint="--older-than")
        said = older_than
    else:
        config = load_config(config_path or default_config_path())
        if config.audit_retention is None:
            raise click.UsageError(
                "--prune needs --older-than DURATION (e.g. 90d) or runbook.audit_retention "
                f"in {config.source or 'ops.yaml'}"
            )
        retention = config.audit_retention
        said = f"{format_duration(retention)} ({config.source}: runbook.audit_retention)"
    now = time.time()
    cutoff = now - retention
    pruned = AuditLog(path).prune(cutoff, StateStore(directory).unfinished())
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff))
    if output != "table":
        document = {
            "path": path,
            "removed": pruned.removed,
            "kept": pruned.kept,
            "older_than": said,
            "before": before,
        }
        print_document(document, output)
        return
    click.echo(
        f"{path}: removed {pruned.removed} line(s) of runs finished before {before} "
        f"(older than {said}); kept {pruned.kept}"
    )
