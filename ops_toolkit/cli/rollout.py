"""``ops rollout ...``: staged rollouts gated on SLO evidence, thin commands over
``ops_toolkit.rollout``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ops_toolkit.cli import complete
from ops_toolkit.cli.options import (
    config_option,
    metrics_settings,
    output_option,
    print_document,
    prometheus_option,
    source_option,
    state_dir_option,
    state_option,
    with_serve_state,
)

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def rollout() -> None:
    """Open a service stage by stage: status, advance on evidence, rollback, report.

    \b
    Examples:
      ops rollout status search
      ops rollout advance search --dry-run
    """


def _common(func: Any) -> Any:
    func = click.option(
        "--dir",
        "directory",
        default="rollouts",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Where plans are looked up by name.",
    )(func)
    func = config_option(func)  # Prometheus, state, runbook_base_url
    func = state_option(func)  # where milestone messages are queued, as ops serve's
    func = click.option(
        "--at",
        help="Evaluate the checks at this time (RFC 3339 or unix seconds; default now); "
        "'status' shows the stage the plan was at then.",
    )(func)
    func = click.option(
        "--timeout",
        default=10.0,
        show_default=True,
        help="Seconds the command's queries may take, all together (not one per query).",
    )(func)
    func = source_option(func)  # where SLO checks and budgets read, as 'ops slo report'
    return prometheus_option(func)


def _world(
    config: Any,
    plan: Any,
    prometheus_url: str | None,
    timeout: float,
    *,
    use_rules: bool | None = None,
    yes: bool = False,
    non_interactive: bool = False,
    state_dir: str | None = None,
    as_json: bool = False,
    unknown: str | None = None,
    allow_changed: bool = False,
) -> Any:
    from ops_toolkit.cli.runbook import _world as runbook_world
    from ops_toolkit.cli.slo import _source
    from ops_toolkit.rollout.advance import RolloutWorld
    from ops_toolkit.rollout.runner import RunbookStageRunner
    from ops_toolkit.rollout.validate import reads_slos
    from ops_toolkit.slo.spec import load_slos

    url = metrics_settings(prometheus_url, config)
    world = runbook_world(
        as_json=as_json,
        non_interactive=non_interactive,
        state_dir=state_dir,
        prometheus_url=url,
        config_path=config.source,
    )
    slos = load_slos(plan.slos) if reads_slos(plan) else []
    return RolloutWorld(
        slos=slos,
        # one deadline for all of the checks' queries, from when they start (was 30 s each)
        source=lambda: _source(url, timeout, one_deadline=True),
        runner=RunbookStageRunner(
            world,
            plan.runbooks,
            yes=yes,
            rerun_unknown=unknown == "rerun",
            skip_unknown=unknown == "skip",
            allow_changed=allow_changed,
        ),
        publish=_publisher(config, machine=as_json),
        runbook_base_url=config.runbook_base_url,
        user=world.user,
        host=world.host,
        use_rules=use_rules,
    )


def _failed_exit_code(outcome: Any, world: Any) -> int:
    """128 + the signal that stopped the stage's run (143 for SIGTERM, 130 for Ctrl-C), as
    shells report it and as ``ops runbook run`` exits; else 1."""
    stopped_by = world.runner.stopped_by
    return 128 + stopped_by[0] if outcome.status == "aborted" and stopped_by else 1


def _publisher(config: Any, *, machine: bool = False) -> Any:
    """Posts a milestone; ``machine`` (-o json|yaml): the console notifier writes to stderr,
    so that stdout holds the one document."""

    def publish(group: str, channel: str, message: dict[str, Any]) -> None:
        import sys

        from ops_toolkit.notify.console import ConsoleNotifier
        from ops_toolkit.notify.model import Planned
        from ops_toolkit.serve.service import make_notifier
        from ops_toolkit.serve.store import Store
        from ops_toolkit.serve.worker import deliver_now

        store = Store(config.serve.state, busy_timeout=config.store.busy_timeout)
        ids = store.claim_slot(group, 0.0, [Planned(group, channel, "post", message)], time.time())
        if ids is None:
            return  # this milestone was posted already
        notifier = make_notifier(config)
        if machine and isinstance(notifier, ConsoleNotifier):
            notifier.stream = sys.stderr
        for problem in deliver_now(store, notifier, ids, pace=0.0):
            click.echo(f"Error: milestone message: {problem}", err=True)

    return publish


def _unknown_options(func: F) -> F:
    """What a resumed stage run does with a step that may have run when ops was killed, and
    with a runbook changed since the run started (fixed after its step failed)."""
    func = click.option(
        "--allow-changed",
        is_flag=True,
        help="Resuming: go on though the runbook changed since the run started.",
    )(func)
    func = click.option(
        "--skip-unknown",
        "unknown",
        flag_value="skip",
        help="Resuming: go on after a step that may have run when ops was killed.",
    )(func)
    return click.option(
        "--rerun-unknown",
        "unknown",
        flag_value="rerun",
        help="Resuming: run again a step that may have run when ops was killed.",
    )(func)


def _load(
    reference: str, directory: str, config_path: str | None, state: str | None
) -> tuple[Any, Any, Any]:
    from ops_toolkit.cli.settings import resolved
    from ops_toolkit.config import load_config
    from ops_toolkit.rollout.history import History
    from ops_toolkit.rollout.plan import load_plan

    config = resolved(with_serve_state(load_config(config_path), state))
    plan = load_plan(reference, directory)
    return config, plan, History(plan.history_path)


def _print_status(status: Any, reference: str) -> None:
    from rich.console import Console
    from rich.table import Table

    plan = status.plan
    console = Console(highlight=False, markup=False)  # plan text is shown as written
    current = status.progress.stage or "not started"
    number = plan.index(status.progress.stage) + 1
    since = ""
    if status.progress.since:
        since = f" since {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(status.progress.since))}"
    console.print(f"{plan.name}: stage {number}/{len(plan.stages)} {current}{since}")
    if status.next_stage is None:
        console.print("At the last stage: nothing left to advance.")
        for reason in status.blocked:  # an unfinished rollback of it
            console.print(f"Unfinished: {reason}")
        return
    console.print(f"Next: {status.next_stage.name}. {status.next_stage.description}".rstrip())
    if status.checks:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("check", "verdict", "value"):
            table.add_column(column, overflow="fold")
        for check in status.checks:
            if check.error:  # its error is printed once, below
                table.add_row(check.name, "cannot tell", "could not be read (below)")
            elif check.no_data:
                table.add_row(check.name, "cannot tell", check.detail)
            else:
                table.add_row(check.name, "holds" if check.passed else "FAILS", check.detail)
        console.print(table)
        _print_sources(console, status.checks, status.cannot_tell)
    if status.blocked:
        console.print("Blocked by:")
        for reason in status.blocked:
            console.print(f"  - {reason}", markup=False)
    if status.cannot_tell:
        console.print(f"Cannot tell whether {status.next_stage.name} may be entered:")
        for cause in status.cannot_tell:
            console.print(f"  - {cause}", markup=False)
    if status.no_data:
        console.print("Cannot tell yet (no data):")
        for reason in status.no_data:
            console.print(f"  - {reason}", markup=False)
    if status.ready:
        console.print(f"Ready: 'ops rollout advance {reference}' enters {status.next_stage.name}.")


# 'ops rollout status' and a refused advance exit as 'ops slo gate' does: 1 when it cannot
# tell (Prometheus could not be read, or a check has no data yet: neither an outage nor a
# series without samples is a blocked stage), 3 when blocked.
STATUS_EXIT = {"ready": 0, "last": 0, "blocked": 3, "cannot tell": 1}


def _print_sources(console: Any, checks: Any, causes: Any = ()) -> None:
    """Each SLO the checks read once, with its source and why (as 'ops slo report --explain');
    not one whose reason only repeats why the checks could not be read (printed once)."""
    seen: dict[str, Any] = {}
    for check in checks:
        for used in check.sources:
            if not any(cause in used.reason for cause in causes):
                seen.setdefault(used.slo, used)
    if not seen:
        return
    console.print("Sources (rules: recorded series; queries: direct):")
    for used in seen.values():
        console.print(f"  {used.slo}: {used.source}: {used.reason}")


@rollout.command("status")
@click.argument("plan_ref", metavar="PLAN", shell_complete=complete.plan_names)
@_common
@output_option("table", "json", "yaml")
def status_command(
    plan_ref: str,
    directory: str,
    config_path: str | None,
    state: str | None,
    at: str | None,
    prometheus_url: str | None,
    timeout: float,
    use_rules: bool | None,
    output: str,
) -> None:
    """Where PLAN stands: current stage, each check of the next stage against its threshold,
    what blocks it and how long the soak still runs.

    \b
    Exit codes (those of 'ops slo gate'):
      0  ready (or at the last stage)
      3  blocked: a check fails, the soak runs, or a run is unfinished
      1  cannot tell (nothing blocks, but Prometheus could not be read or a
         check has no data yet: no series, no traffic), or an error

    \b
    Examples:
      ops rollout status search -o json
    """
    from ops_toolkit.cli.slo import _parse_at
    from ops_toolkit.rollout.advance import evaluate_status
    from ops_toolkit.rollout.history import events_until
    from ops_toolkit.rollout.validate import require_valid

    config, plan, history = _load(plan_ref, directory, config_path, state)
    world = _world(config, plan, prometheus_url, timeout, use_rules=use_rules)
    require_valid(plan, world.slos)
    moment = _parse_at(at)
    events: list[Any] = history.read()
    if at is not None:  # the stage at that time (not without --at: another host's clock
        events = events_until(events, moment)  # may run a little ahead of this one's)
    status = evaluate_status(plan, events, world, moment)
    if output != "table":
        print_document(status.as_dict(), output)
    else:
        _print_status(status, plan_ref)
    raise SystemExit(STATUS_EXIT[status.verdict])


@rollout.command("advance")
@click.argument("plan_ref", metavar="PLAN", shell_complete=complete.plan_names)
@_common
@click.option("--dry-run", is_flag=True, help="Evaluate the checks and say what would run.")
@click.option("--yes", is_flag=True, help="Run the runbook's confirm steps without asking.")
@click.option("--non-interactive", is_flag=True, help="Never prompt (refuses confirm steps).")
@_unknown_options
@state_dir_option
@output_option("table", "json", "yaml")
def advance_command(
    plan_ref: str,
    directory: str,
    config_path: str | None,
    state: str | None,
    at: str | None,
    prometheus_url: str | None,
    timeout: float,
    use_rules: bool | None,
    dry_run: bool,
    yes: bool,
    non_interactive: bool,
    unknown: str | None,
    allow_changed: bool,
    state_dir: str | None,
    output: str,
) -> None:
    """Enter PLAN's next stage: when its checks hold (and held for the soak), run the stage's
    runbook, record the evidence in the plan's history and post the milestone.

    \b
    Exit codes (those of 'ops slo gate' and 'ops rollout status'):
      0  advanced
      3  blocked: each reason listed; nothing ran
      1  cannot tell (nothing blocks, but Prometheus could not be read or a
         check has no data yet): nothing ran; or the runbook did not succeed
         (run 'ops rollout advance' again to resume it); or an error
      130, 143  the run was stopped by Ctrl-C, by SIGTERM (128 + the signal)

    \b
    Examples:
      ops rollout advance search --dry-run
      ops rollout advance search --yes
    """
    from ops_toolkit.cli.slo import _parse_at
    from ops_toolkit.rollout.advance import advance, refusal_text
    from ops_toolkit.rollout.validate import require_valid

    machine = output != "table"
    config, plan, history = _load(plan_ref, directory, config_path, state)
    world = _world(
        config,
        plan,
        prometheus_url,
        timeout,
        use_rules=use_rules,
        yes=yes,
        non_interactive=non_interactive,
        state_dir=state_dir,
        as_json=machine,
        unknown=unknown,
        allow_changed=allow_changed,
    )
    require_valid(plan, world.slos)  # every stage's references, before anything runs
    result = advance(plan, history, world, at=_parse_at(at), dry_run=dry_run)
    document = {
        **result.status.as_dict(),
        "advanced": result.advanced,
        "resumed": result.resumed,
        "dry_run": result.dry_run,
        "run": vars(result.outcome) if result.outcome else None,
    }
    if machine:
        print_document(document, output)
    elif result.outcome is None:
        _print_status(result.status, plan_ref)
    if result.outcome is None:
        if result.status.blocked or result.status.undecided:
            click.echo(refusal_text(result.status, plan_ref), err=True)
            raise SystemExit(STATUS_EXIT[result.status.verdict])
        if not machine:
            click.echo("Dry run: nothing ran.")
        return
    stage = result.status.next_stage.name if result.status.next_stage else "?"
    if result.resumed and result.status.progress.pending:
        stage = str(result.status.progress.pending["stage"])
    if result.advanced:
        run = f"run {result.outcome.run_id}" if result.outcome.runbook else "no runbook"
        click.echo(f"{plan.name}: entered stage {stage!r} ({run})", err=True)
        return
    click.echo(
        f"{plan.name}: stage {stage!r} not entered: run {result.outcome.run_id} "
        f"{result.outcome.status}. Run 'ops rollout advance {plan_ref}' again to resume it.",
        err=True,
    )
    raise SystemExit(_failed_exit_code(result.outcome, world))


@rollout.command("rollback")
@click.argument("plan_ref", metavar="PLAN", shell_complete=complete.plan_names)
@_common
@click.option("--yes", is_flag=True, help="Run the runbook's confirm steps without asking.")
@click.option("--non-interactive", is_flag=True, help="Never prompt (refuses confirm steps).")
@_unknown_options
@state_dir_option
@output_option("table", "json", "yaml")
def rollback_command(
    plan_ref: str,
    directory: str,
    config_path: str | None,
    state: str | None,
    at: str | None,
    prometheus_url: str | None,
    timeout: float,
    use_rules: bool | None,
    yes: bool,
    non_interactive: bool,
    unknown: str | None,
    allow_changed: bool,
    state_dir: str | None,
    output: str,
) -> None:
    """Run the rollback runbook of PLAN's current stage; on success the plan is one stage back.

    \b
    Examples:
      ops rollout rollback search --yes
      ops rollout rollback search --yes --non-interactive -o json
    """
    from ops_toolkit.rollout.advance import SUCCEEDED, rollback

    machine = output != "table"
    config, plan, history = _load(plan_ref, directory, config_path, state)
    world = _world(
        config,
        plan,
        prometheus_url,
        timeout,
        use_rules=use_rules,
        yes=yes,
        non_interactive=non_interactive,
        state_dir=state_dir,
        as_json=machine,
        unknown=unknown,
        allow_changed=allow_changed,
    )
    outcome = rollback(plan, history, world)
    if machine:
        document = {
            "plan": plan.name,
            "rolled_back": outcome.status == SUCCEEDED,
            "run": vars(outcome),
        }
        print_document(document, output)
    if outcome.status != SUCCEEDED:
        click.echo(
            f"{plan.name}: rollback run {outcome.run_id} {outcome.status}; run 'ops rollout "
            "rollback' again to resume it.",
            err=True,
        )
        raise SystemExit(_failed_exit_code(outcome, world))
    click.echo(f"{plan.name}: rolled back (run {outcome.run_id})", err=True)


@rollout.command("report")
@click.argument("plan_ref", metavar="PLAN", shell_complete=complete.plan_names)
@_common
@output_option("table", "markdown", "html", "json", "yaml")
def report_command(
    plan_ref: str,
    directory: str,
    config_path: str | None,
    state: str | None,
    at: str | None,
    prometheus_url: str | None,
    timeout: float,
    use_rules: bool | None,
    output: str,
) -> None:
    """PLAN's history for stakeholders: stages, dates, the evidence at each advance, and
    (with a Prometheus) the SLO budgets now with their burn-down. A table on the terminal,
    as every command prints by default; Markdown for a wiki, HTML as one page.

    \b
    Examples:
      ops rollout report search
      ops rollout report search -o markdown > rollout.md
      ops rollout report search -o html > rollout.html
    """
    from ops_toolkit.cli.slo import _parse_at
    from ops_toolkit.rollout.report import markdown, render_html, summarise

    config, plan, history = _load(plan_ref, directory, config_path, state)
    events = history.read()
    summary = summarise(plan, events)
    if output in ("json", "yaml"):
        print_document({"plan": plan.name, "current": summary.current, "events": events}, output)
        return
    budgets: list[Any] = []
    charts: list[Any] = []
    sources: dict[str, Any] = {}
    url = metrics_settings(prometheus_url, config)
    if url:
        from ops_toolkit.cli.slo import _source
        from ops_toolkit.errors import MetricsError
        from ops_toolkit.slo.evaluate import evaluate_auto, failed, source_choices
        from ops_toolkit.slo.spec import load_slos

        source = _source(url, timeout, one_deadline=True)
        slos = [s for s in load_slos(plan.slos) if s.service == plan.service]
        moment = _parse_at(at)
        try:
            sources = source_choices(slos, source, moment, use_rules=use_rules, explain=True)
            budgets = evaluate_auto(
                slos, source, moment, keep_going=True, use_rules=use_rules, choices=sources
            )
        except MetricsError as error:  # --use-rules: one failure is every SLO's; the history
            budgets = [failed(slo, moment, str(error)) for slo in slos]  # is still reported
        if output == "html":
            from ops_toolkit.slo.burndown import burndowns

            charts = burndowns([b for b in budgets if b.status != "error"], source)
    if output == "html":
        click.echo(render_html(summary, budgets, charts, sources), nl=False)
    elif output == "markdown":
        click.echo(markdown(summary, budgets, sources), nl=False)
    else:
        _print_report(summary, budgets, sources)


def _print_report(summary: Any, budgets: Any, sources: Any) -> None:
    """The report's Markdown content as terminal tables: stages, evidence, budgets now."""
    from rich.console import Console
    from rich.table import Table

    from ops_toolkit.formatting import percent
    from ops_toolkit.notify.message import when_text
    from ops_toolkit.rollout.report import reported, source_text, unreported

    def table(*columns: str) -> Any:
        made = Table(show_edge=False, pad_edge=False)
        for column in columns:
            made.add_column(column, overflow="fold")
        return made

    console = Console(highlight=False, markup=False)  # plan text is shown as written
    plan = summary.plan
    console.print(f"{plan.name} ({plan.service}): current stage {summary.current or 'not started'}")
    stages = table("#", "stage", "entered", "by", "run")
    for number, entry in enumerate(summary.stages, 1):
        entered = when_text(entry.entered_at) if entry.entered_at else "—"
        stages.add_row(str(number), entry.stage, entered, entry.by or "—", entry.run)
    console.print(stages)
    for entry in summary.stages:
        if entry.evidence:
            console.print(f"Evidence for {entry.stage}:")
            evidence = table("check", "verdict", "value")
            for item in entry.evidence:
                verdict = "holds" if item.get("passed") else "failed"
                evidence.add_row(str(item.get("name")), verdict, str(item.get("detail")))
            console.print(evidence)
    if reported(budgets):
        console.print("SLO budgets now:")
        now = table("SLO", "budget left", "status", "source")
        for status in reported(budgets):
            now.add_row(
                status.slo.key,
                percent(status.budget_remaining),
                status.status,
                source_text(status, sources),
            )
        console.print(now)
    missing = unreported(budgets)
    if missing is not None:  # the cause once (Prometheus down: not once per SLO), then whose
        console.print(missing.text)
        console.print("Not reported:")
        for key in missing.slos:
            console.print(f"  - {key}")
