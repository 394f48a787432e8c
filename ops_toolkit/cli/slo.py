"""``ops slo ...``: thin commands over ``ops_toolkit.slo``."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from ops_toolkit.cli.options import (
    check_writable,
    check_writable_dir,
    config_option,
    json_option,
    metrics_settings,
    no_password_on_command_line,
    output_option,
    print_document,
    print_json,
    prometheus_option,
    source_option,
    state_option,
    with_serve_state,
)
from ops_toolkit.errors import ConfigError


@click.group()
def slo() -> None:
    """Validate SLOs, report error budgets and burn rates, gate rollouts.

    \b
    Examples:
      ops slo validate
      ops slo report --prometheus http://127.0.0.1:9090
      ops slo gate search/availability --min-remaining 25%
    """


def _slo_keys(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Completes SERVICE/SLO; click's completion module is imported only when completing."""
    from ops_toolkit.cli.complete import slo_keys

    return slo_keys(ctx, param, incomplete)


def _parse_at(value: str | None) -> float:
    """``--at``: RFC 3339 or unix seconds; default now."""
    if value is None:
        return time.time()
    try:
        return float(value)
    except ValueError:
        pass
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected RFC 3339 (2026-11-29T08:00:00Z) or unix seconds, got {value!r}",
            param_hint="--at",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _source(prometheus: Any, timeout: float, *, one_deadline: bool = False) -> Any:
    """The metrics source (a URL or ``SourceSettings``); ``one_deadline``: ``timeout`` bounds
    all its queries together."""
    if not prometheus:
        from ops_toolkit.runbook.execute import no_metrics

        return no_metrics()
    from ops_toolkit.metrics.prometheus import open_source
    from ops_toolkit.metrics.source import SourceSettings

    settings = SourceSettings(prometheus) if isinstance(prometheus, str) else prometheus
    deadline = time.monotonic() + timeout if one_deadline else None
    return open_source(settings, os.environ, timeout=timeout, deadline=deadline)


def _query_options(func: Any) -> Any:
    func = click.option(
        "--at", help="Evaluate at this time (RFC 3339 or unix seconds; default now)."
    )(func)
    func = click.option(
        "--timeout",
        default=10.0,
        show_default=True,
        help="Seconds the command's queries may take, all together.",
    )(func)
    return prometheus_option(func)


@slo.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@_query_options
@click.option(
    "--offline",
    is_flag=True,
    help="Check the files only, even with a Prometheus configured (CI).",
)
@output_option("table", "json", "yaml")
@config_option
def validate_command(
    paths: tuple[str, ...],
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
    offline: bool,
    output: str,
    config_path: str | None,
) -> None:
    """Check SLO definitions (default slos: in ops.yaml, else slos/); with a Prometheus
    (--prometheus, OPS_PROMETHEUS_URL or prometheus: in ops.yaml) and without --offline,
    also check them against live data: every selector matches series in the SLO's period
    and a latency SLI's bucket bound exists. Exit 1 on any error; warnings do not fail.

    Every format is read: ops/v1, OpenSLO v1 and v1alpha, Sloth (prometheus/v1 and
    PrometheusServiceLevel) and Pyrra (ServiceLevelObjective).

    \b
    Examples:
      ops slo validate slos/search.yaml
      ops slo validate --prometheus http://127.0.0.1:9090
      ops slo validate --offline   # in CI, without the Prometheus
    """
    from ops_toolkit.cli.settings import slo_paths
    from ops_toolkit.config import load_config
    from ops_toolkit.slo.live import Finding
    from ops_toolkit.slo.spec import load_slo_files

    config = load_config(config_path)
    if offline and prometheus_url:
        raise click.UsageError("--offline checks the files only: leave out --prometheus")
    settings = None if offline else metrics_settings(prometheus_url, config)
    # Every file is read, a bad one reported beside the others (as ``ops check`` does), and
    # -o json prints its document on an invalid file too: a script reads one shape always.
    problems: list[ConfigError] = []
    files = load_slo_files(slo_paths(paths, config), problems)
    rows = [
        {
            "path": f.source,
            "service": s.service,
            "slo": s.name,
            "objective": s.objective,
            "window": s.window.describe(),
            "runbook": s.runbook,
        }
        for f in files
        for s in f.slos
    ]
    findings = [Finding("error", str(problem)) for problem in problems]
    if settings:
        from ops_toolkit.slo.live import check_live

        slos = [s for f in files for s in f.slos]
        source = _source(settings, timeout)
        findings += check_live(slos, source, _parse_at(at))  # beside the files' problems
        findings += _retention_findings(files, source)
    errors = [f for f in findings if f.level == "error"]
    if output != "table":
        # one shape with or without --prometheus, so a script reads both alike
        print_document({"slos": rows, "findings": [vars(f) for f in findings]}, output)
    else:
        for row in rows:
            click.echo(
                f"{row['path']}: {row['service']}/{row['slo']}: {row['objective']:g}% over "
                f"{row['window']}"
            )
        for finding in findings:
            click.echo(f"{finding.level.capitalize()}: {finding.message}", err=True)
    if errors:
        if output == "table" and problems and rows:  # bad files beside good ones
            click.echo(f"{len(errors)} error(s); {len(rows)} SLO(s) valid elsewhere", err=True)
        raise SystemExit(1)
    checked = " and against live data" if settings else ""
    if output == "table":
        click.echo(f"{len(rows)} SLO(s) in {len(files)} file(s): valid{checked}", err=True)


def _retention_findings(files: Any, source: Any) -> list[Any]:
    """Warnings for SLOs longer than the server's retention, each at its file:line."""
    from ops_toolkit.slo.live import check_retention
    from ops_toolkit.yamlpath import line_of, read_text

    lines = {}
    for file in files:
        text = read_text(file.source)
        for slo in file.slos:
            line = line_of(text, slo.path)
            if line is not None:
                lines[slo.place] = line
    slos = [s for f in files for s in f.slos]
    return check_retention(slos, source.retention(), source.shown_url, lines)


@slo.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@_query_options
@output_option("table", "wide", "json", "yaml", "markdown", "html")
@click.option("--keep-going", is_flag=True, help="Report the other SLOs when queries of one fail.")
@click.option(
    "--post",
    "channel",
    metavar="CHANNEL",
    help="Post the report to a chat channel through the durable outbox.",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False),
    metavar="FILE.png",
    help="Write the budget burn-down chart (needs ops-toolkit[charts]); uploaded with --post.",
)
@click.option("--once", is_flag=True, help="Run the schedule --name from --config once (for cron).")
@click.option(
    "--console",
    is_flag=True,
    help="With --post/--once: print the messages instead of posting (no SLACK_BOT_TOKEN needed).",
)
@click.option("--name", help="The report schedule to run with --once.")
@click.option("--force", is_flag=True, help="With --once: post even if this slot was posted.")
@config_option
@state_option
@source_option
@click.option(
    "--explain",
    is_flag=True,
    help="Print each SLO's source and why (asking Prometheus which recorded series are "
    "fresh), then the query plan (each query, its range, the SLOs it serves); send none of it.",
)
def report_command(
    paths: tuple[str, ...],
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
    output: str,
    keep_going: bool,
    use_rules: bool | None,
    channel: str | None,
    chart: str | None,
    once: bool,
    console: bool,
    name: str | None,
    force: bool,
    config_path: str | None,
    state: str | None,
    explain: bool,
) -> None:
    """Error budgets and burn rates of the SLOs in PATHS (default slos/), worst first.

    Every query is evaluated at one pinned time (--at). Exit 1 when Prometheus fails.

    \b
    Examples:
      ops slo report --prometheus http://127.0.0.1:9090
      ops slo report slos/search.yaml --at 2026-11-30T09:00:00Z -o json
      ops slo report -o wide       # every column, whatever the terminal width
      ops slo report --use-rules   # recorded series: cost does not grow with SLOs
      ops slo report --direct      # raw counters, even where rules recorded
      ops slo report --explain     # each SLO's source and why, the queries
    """
    from ops_toolkit.cli.settings import resolved, slo_paths
    from ops_toolkit.config import load_config
    from ops_toolkit.slo import report
    from ops_toolkit.slo.evaluate import RECORDED, evaluate_auto
    from ops_toolkit.slo.spec import datasource_url, load_slos

    # --post and --once go through ops serve's store (--state, OPS_STATE, serve.state)
    config = resolved(with_serve_state(load_config(config_path), state), prometheus=prometheus_url)
    prometheus: Any = config.prometheus_source  # or the files' data source
    if channel or once:
        _require_notifier(config, console, "--once" if once else "--post")
    if chart:
        check_writable(chart, "--chart")
    if once:
        _run_schedule(config, name, force, console)
        return
    slos = load_slos(slo_paths(paths, config))
    prometheus = prometheus or datasource_url(slos)
    if explain:
        _explain(slos, prometheus, timeout, _parse_at(at), use_rules, output)
        return
    source = _source(prometheus, timeout, one_deadline=True)
    statuses = evaluate_auto(
        slos, source, _parse_at(at), keep_going=keep_going, use_rules=use_rules
    )
    recorded = sum(1 for s in statuses if s.source == RECORDED)
    if use_rules is None and recorded:
        click.echo(
            f"source: recorded series for {recorded} of {len(statuses)} SLO(s), direct "
            "queries for the rest (--direct to query raw counters for all)",
            err=True,
        )
    for status in statuses:
        if status.error:
            click.echo(f"Error: {status.error}", err=True)
    charts: list[Any] = []
    png: bytes | None = None
    if chart or output == "html":
        from ops_toolkit.slo.burndown import burndowns

        charts = burndowns(statuses, source)
    if chart:
        from ops_toolkit.slo.html import render_png

        png = render_png(charts)
        from ops_toolkit.files import write_atomically

        try:  # never through a link planted at that name in a shared folder
            write_atomically(chart, png)
        except OSError as exc:
            raise ConfigError(f"--chart {chart}: cannot write: {exc.strerror or exc}") from None
    if output in ("json", "yaml"):
        documents = [report.status_document(s) for s in report.sort_worst_first(statuses)]
        print_document(documents, output)
    elif output == "markdown":
        click.echo(report.markdown(statuses, config.runbook_base_url), nl=False)
    elif output == "html":
        from ops_toolkit.slo.html import render_html

        click.echo(render_html(statuses, charts, config.runbook_base_url), nl=False)
    else:
        from ops_toolkit.cli.tables import print_fitted

        print_fitted(
            lambda columns: report.table(statuses, columns),
            report.TABLE_COLUMNS,
            report.TABLE_DROP_ORDER,
            wide=output == "wide",
        )
    if channel:
        _post(config, statuses, channel, png, chart, console)
    if any(s.error for s in statuses):
        raise SystemExit(1)


def _explain(
    slos: Any, prometheus: Any, timeout: float, at: float, use_rules: bool | None, output: str
) -> None:
    """``--explain``: each SLO's source and why (asking Prometheus which recorded series
    exist, and how stale, when it is given), and the count queries the report would send.
    None of those is sent."""
    from ops_toolkit.slo import report
    from ops_toolkit.slo.evaluate import RECORDED, query_plan, recorded_queries, source_choices

    source = _source(prometheus, timeout, one_deadline=True) if prometheus else None
    choices = source_choices(slos, source, at, use_rules=use_rules, explain=True)
    recorded = [s for s in slos if choices[s.key].source == RECORDED]
    plan = query_plan([s for s in slos if choices[s.key].source != RECORDED], at)
    if output in ("json", "yaml"):
        print_document(
            report.explain_document(plan, choices, recorded_queries(recorded), at), output
        )
        return
    click.echo(report.explain(plan, choices, recorded_queries(recorded), at), nl=False)


def _require_notifier(config: Any, console: bool, option: str) -> None:
    """Posting needs Slack, or the console asked for by name: under cron a silent console
    fallback would post nowhere, for ever."""
    import os

    if console or config.notifier == "console":
        return
    token = os.environ.get("SLACK_BOT_TOKEN")
    if token:
        from ops_toolkit.config import refuse_placeholder

        refuse_placeholder("SLACK_BOT_TOKEN", token)  # before the queries, not after
        return
    raise ConfigError(
        f"{option} posts to Slack: set SLACK_BOT_TOKEN (and SLACK_API_URL for a "
        "Slack-compatible API), or pass --console (or 'notifier: console' in ops.yaml) to "
        "print the messages instead"
    )


def _post(
    config: Any, statuses: Any, channel: str, png: bytes | None, chart: str | None, console: bool
) -> None:
    """The report through the outbox; delivered from here with the outbox's retry rules."""
    from ops_toolkit.notify.model import CHANNEL
    from ops_toolkit.reports.scheduled import report_plan
    from ops_toolkit.serve.service import make_notifier
    from ops_toolkit.serve.store import Store

    if not CHANNEL.match(channel):
        raise click.BadParameter(
            f"expected a channel like #search, got {channel!r}", param_hint="--post"
        )
    planned = report_plan(
        statuses,
        channel=channel,
        group=f"report:adhoc:{time.time():.0f}",
        runbook_base_url=config.runbook_base_url,
        chart=png,
        chart_name=os.path.abspath(chart) if chart else "burndown.png",
    )
    store = Store(config.serve.state, busy_timeout=config.store.busy_timeout)
    notifier = make_notifier(config, console=console)
    _deliver(store, notifier, store.enqueue(planned, time.time()), config)


def _deliver(store: Any, notifier: Any, ids: list[int], config: Any) -> None:
    from ops_toolkit.serve.worker import deliver_now

    problems = deliver_now(store, notifier, ids, pace=config.serve.pace_seconds)
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"posted {len(ids)} message(s)", err=True)


def _run_schedule(config: Any, name: str | None, force: bool, console: bool) -> None:
    from ops_toolkit.reports.scheduled import ReportPublisher
    from ops_toolkit.serve.service import make_notifier
    from ops_toolkit.serve.store import Store

    if not name:
        raise click.UsageError("--once needs --name (a report in ops.yaml)")
    if not config.prometheus:
        raise ConfigError(f"{config.source or 'ops.yaml'}: reports need 'prometheus: URL'")
    settings = config.prometheus_source
    store = Store(config.serve.state, busy_timeout=config.store.busy_timeout)
    ids = ReportPublisher(config, store, lambda: _source(settings, 10.0)).run_by_hand(
        name, time.time(), force=force
    )
    if ids is None:
        click.echo(
            f"report {name!r}: this slot was already posted (use --force to post again)", err=True
        )
        return
    _deliver(store, make_notifier(config, console=console), ids, config)


@slo.command("gate")
@click.argument("selector", metavar="SERVICE/SLO", shell_complete=_slo_keys)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--min-remaining",
    callback=lambda ctx, param, value: _budget_amount(value, "--min-remaining"),
    metavar="N%|FRACTION",
    help="Smallest budget remaining that lets the rollout go on: 25% or 0.25 "
    "[default: the policy's gate in ops.yaml, else 25%].",
)
@click.option(
    "--allow-burning",
    is_flag=True,
    help="Go on while the SLO is critical (burning fast) if the budget left holds.",
)
@config_option
@_query_options
@source_option
@output_option("table", "json", "yaml")
def gate_command(
    selector: str,
    paths: tuple[str, ...],
    min_remaining: float | None,
    allow_burning: bool,
    config_path: str | None,
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
    use_rules: bool | None,
    output: str,
) -> None:
    """Rollout gate: exit 0 while SERVICE/SLO has budget left, 3 when it does not, 1 on error
    or when it cannot tell (no data in the window).

    It also stops (exit 3) while the SLO is critical, burning its budget fast, unless
    --allow-burning. Each reason is printed. Without --min-remaining the policy in ops.yaml
    decides ('gate: 0%' is a deploy freeze once the budget is spent).

    The budget comes from the series 'ops slo rules' records when they exist and are fresh,
    else from direct queries, as 'ops slo report' chooses; the last line says which and why.

    \b
    Examples:
      ops slo gate search/availability --min-remaining 25% && widen-pilot
      ops slo gate search/availability -o json     # the verdict and its reasons
      ops slo gate search/availability --direct    # raw counters, not the rules
    """
    from ops_toolkit.cli.settings import slo_paths
    from ops_toolkit.config import load_config
    from ops_toolkit.reports.scheduled import gate_minimum
    from ops_toolkit.slo.evaluate import evaluate_auto, source_choices
    from ops_toolkit.slo.report import gate_verdict
    from ops_toolkit.slo.spec import datasource_url, load_slos
    from ops_toolkit.suggest import did_you_mean

    config = load_config(config_path)
    where = slo_paths(paths, config)
    slos = load_slos(where)
    chosen = [s for s in slos if s.key == selector]
    if not chosen:
        hint = did_you_mean(selector, [s.key for s in slos])
        raise ConfigError(f"no SLO {selector!r} in {', '.join(where)}{hint}")
    if min_remaining is None:
        policy = gate_minimum(config, chosen[0])
        min_remaining = policy if policy is not None else 0.25
    prometheus = metrics_settings(prometheus_url, config) or datasource_url(chosen)
    source = _source(prometheus, timeout, one_deadline=True)
    moment = _parse_at(at)
    choices = source_choices(chosen, source, moment, use_rules=use_rules, explain=True)
    status = evaluate_auto(
        chosen, source, moment, keep_going=True, use_rules=use_rules, choices=choices
    )[0]
    choice = choices[status.slo.key]
    decided = gate_verdict(status, min_remaining, allow_burning=allow_burning)
    verdict = decided.verdict
    if output == "table":
        for reason in decided.reasons:
            click.echo(reason)
        click.echo(f"{status.slo.key}: source: {choice.source}: {choice.reason}")
    else:
        print_document(
            {
                "slo": status.slo.key,
                "verdict": verdict,
                "exit_code": _GATE_EXIT[verdict],
                "min_remaining": min_remaining,
                "budget_remaining": status.budget_remaining,
                "status": status.status,
                "reasons": list(decided.reasons),
                "source": choice.source,
                "source_reason": choice.reason,
            },
            output,
        )
    raise SystemExit(_GATE_EXIT[verdict])


_GATE_EXIT = {"go": 0, "stop": 3, "error": 1, "cannot tell": 1}


def _budget_amount(value: str | None, option: str) -> float | None:
    """``25%`` or ``0.25``; a bare number above 1 is refused with the percentage it meant."""
    if value is None:
        return None
    from ops_toolkit.amounts import parse_budget_amount

    try:
        return parse_budget_amount(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@slo.command("rules")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--dir",
    "directory",
    default="alerts",
    show_default=True,
    metavar="DIR",
    type=click.Path(),
    help="Where the rule files go.",
)
@click.option(
    "-o",
    "--output",
    "legacy_directory",
    hidden=True,
    type=click.Path(file_okay=False),
    help="Deprecated: --dir.",
)
@click.option(
    "--runbook-base-url",
    envvar="OPS_RUNBOOK_BASE_URL",
    metavar="URL",
    callback=no_password_on_command_line("OPS_RUNBOOK_BASE_URL", "runbook_base_url in ops.yaml"),
    help="Prefix of runbook links in alerts (env OPS_RUNBOOK_BASE_URL; default "
    "runbook_base_url: in ops.yaml).",
)
@click.option("--check", is_flag=True, help="Exit 1 when the files on disk are not current.")
@click.option(
    "--tests",
    "with_tests",
    is_flag=True,
    help="Also write <service>.rules.test.yaml for promtool test rules.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["plain", "prometheusrule"]),
    default="plain",
    show_default=True,
    help="Flavour of the files in --dir: plain rule files, or prometheus-operator "
    "PrometheusRule objects (<service>.prometheusrule.yaml).",
)
@click.option(
    "--inhibit",
    "inhibit_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also write Alertmanager inhibit_rules (a ticket waits while its page fires).",
)
@click.option(
    "--horizon",
    default="90d",
    show_default=True,
    metavar="DURATION",
    help="How far ahead recurring corrections are written into the rules (PromQL knows "
    "only UTC, so their windows are listed); --check fails when a third is left.",
)
@json_option
@config_option
def rules_command(
    paths: tuple[str, ...],
    directory: str,
    legacy_directory: str | None,
    runbook_base_url: str | None,
    check: bool,
    with_tests: bool,
    output_format: str,
    inhibit_path: str | None,
    horizon: str,
    as_json: bool,
    config_path: str | None,
) -> None:
    """Generate Prometheus recording and burn-rate alerting rules from SLOs (default slos: in
    ops.yaml, else slos/).

    One file per SLO file, alerts/<service>.rules.yaml; the same input gives the same bytes.

    \b
    Examples:
      ops slo rules --dir alerts/ --tests --inhibit alerts/inhibit.yaml
      ops slo rules --check          # in CI: fail when alerts/ is stale
      ops slo rules --format prometheusrule --dir deploy/rules/
    """
    import os

    from ops_toolkit.slo.rulefiles import (
        horizon_problems,
        horizons_for,
        stale_file,
        stale_files,
        write_files,
    )
    from ops_toolkit.slo.rules import (
        generate,
        prometheusrule_filename,
        render_inhibit,
        rules_filename,
    )

    if legacy_directory is not None:
        source = click.get_current_context().get_parameter_source("directory")
        if source is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError(
                f"-o {legacy_directory} and --dir {directory} both name the folder: keep --dir"
            )
        directory = _legacy_rules_directory(legacy_directory)
    if not check:  # checked before any work: the SLOs read and the rules generated for nothing
        check_writable_dir(directory, "--dir")
        if inhibit_path:  # its folder is made if need be, as --dir is
            check_writable_dir(os.path.dirname(inhibit_path) or ".", "--inhibit's folder")
    from ops_toolkit.cli.settings import runbook_base_url as choose_base_url
    from ops_toolkit.cli.settings import slo_paths
    from ops_toolkit.config import load_config
    from ops_toolkit.slo.spec import load_slo_files

    config = load_config(config_path)
    files = load_slo_files(slo_paths(paths, config))
    runbook_base_url = choose_base_url(runbook_base_url, config)
    if with_tests and output_format != "plain":
        raise click.UsageError("--tests needs --format plain: promtool tests read plain rule files")
    name_of = rules_filename if output_format == "plain" else prometheusrule_filename
    on_disk = {f.service: os.path.join(directory, name_of(f.service)) for f in files}
    now = time.time()
    horizons = horizons_for(files, on_disk, now, _horizon_seconds(horizon), check=check)
    generated = generate(files, runbook_base_url, with_tests, output_format, horizons)
    inhibit = render_inhibit(files) if inhibit_path else None
    if check:
        problems = stale_files(generated, directory) + horizon_problems(files, on_disk, now)
        if inhibit_path and inhibit is not None:
            problems += stale_file(inhibit_path, inhibit)
        if as_json:
            print_json({"current": not problems, "problems": problems})
        for problem in problems if not as_json else ():
            click.echo(problem)
        if problems:
            click.echo("Rule files are stale: run 'ops slo rules' and commit the result.", err=True)
            raise SystemExit(1)
        if not as_json:
            click.echo(f"{len(generated)} rule file(s) in {directory}/ are current", err=True)
        return
    written = [f"{directory.rstrip('/')}/{name}" for name in sorted(generated)]
    if inhibit_path and inhibit is not None:
        written.append(inhibit_path)
    existed = {path for path in written if os.path.exists(path)}
    changed = write_files(generated, directory)
    if inhibit_path and inhibit is not None:
        folder, name = os.path.split(inhibit_path)
        changed += write_files({name: inhibit}, folder or ".")
    if as_json:
        print_json({"written": changed, "files": sorted(generated), "inhibit": inhibit_path})
        return
    for path in written:
        if path not in existed:
            click.echo(f"{path} (created)")
            continue
        updated = any(os.path.samefile(p, path) for p in changed)
        click.echo(path + (" (updated)" if updated else " (unchanged)"))


def _horizon_seconds(value: str) -> int:
    from ops_toolkit.durations import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--horizon") from None
    if seconds < 86400 or seconds != int(seconds):
        raise click.BadParameter(
            f"expected whole seconds and at least 1d, got {value!r}", param_hint="--horizon"
        )
    return int(seconds)


def _legacy_rules_directory(value: str) -> str:
    """``slo rules -o DIR`` from before ``-o`` meant a format everywhere: still read, with a
    warning, unless the value is a format name (``-o json``), which would write a folder
    named ``json``."""
    from ops_toolkit.cli.options import ALL_FORMATS

    if value in ALL_FORMATS:
        raise click.UsageError(
            f"'ops slo rules' writes files: give their folder with --dir DIR (-o {value} is "
            "an output format, which rules have not; --json prints what was written)"
        )
    click.echo(f"warning: -o/--output DIR is deprecated here: use --dir {value}", err=True)
    return value


@slo.command("convert")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--to",
    "target",
    type=click.Choice(["ops", "openslo"]),
    required=True,
    help="The format to write: ops/v1 or OpenSLO v1.",
)
@click.option(
    "--dir",
    "directory",
    metavar="DIR",
    type=click.Path(),
    help="Write <service>.yaml (ops) or <service>.openslo.yaml here; default: standard output.",
)
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FORMAT",
    help="table (the YAML, or the files written) or json (what was converted, with the "
    "warnings) [default: table].",
)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for -o json.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the other SLOs when the target format cannot hold some SLOs at all.",
)
def convert_command(
    paths: tuple[str, ...],
    target: str,
    directory: str | None,
    output: str | None,
    as_json: bool,
    force: bool,
) -> None:
    """Convert SLO files of any format to ops/v1 or OpenSLO, one file per service.

    What the target format has no place for is reported as a warning, never silently
    dropped; reading the written file gives the same SLOs otherwise. A whole SLO the
    target cannot hold (a raw SLI in OpenSLO) is an error, and nothing is written,
    unless --force.

    \b
    Examples:
      ops slo convert sloth/ pyrra/ --to ops --dir slos/
      ops slo convert slos/search.yaml --to openslo > search.openslo.yaml
      ops slo convert sloth/ --to ops --dir slos/ -o json
    """
    import os

    from ops_toolkit.files import write_atomically
    from ops_toolkit.slo.formats.write import WRITERS, unwritable
    from ops_toolkit.slo.spec import load_slo_files

    if output not in (None, "table", "json"):  # -o names an output format in every command
        from ops_toolkit.cli.options import ALL_FORMATS

        if output in ALL_FORMATS:
            raise click.UsageError(
                f"'ops slo convert' writes YAML in the --to format: it has no -o {output} "
                "(table or json)"
            )
        raise click.UsageError(
            f"-o/--output is an output format in ops, not a folder: give the folder with "
            f"--dir {output}"
        )
    if as_json and output not in (None, "json"):
        raise click.UsageError(f"--json means -o json: give one of them, not -o {output}")
    machine = as_json or output == "json"
    if directory is not None:
        check_writable_dir(directory, "--dir")
    files = load_slo_files(paths)
    if directory is None and len(files) > 1:
        raise click.UsageError(f"{len(files)} SLO files: give --dir DIR to write one file each")
    sources = {os.path.abspath(f.source) for f in files}
    outputs = []
    lost = []
    said: list[str] = []
    for file in files:
        text, warnings = WRITERS[target](file)
        for warning in warnings:
            click.echo(f"Warning: {warning}", err=True)
            said.append(str(warning))
        lost += unwritable(file, target)
        if text is None:
            continue
        header = f"# Converted by 'ops slo convert --to {target}' from {file.source}\n"
        outputs.append((file, header + text))
    if not outputs:
        raise ConfigError(f"{', '.join(paths)}: nothing can be written as {target}")
    if lost and not force:
        raise ConfigError(
            f"{', '.join(s.key for s in lost)}: cannot be written as {target} (above); nothing "
            "written: give --force to write the other SLOs without them"
        )
    converted = [
        {"source": file.source, "service": file.service, "path": None, "text": text}
        for file, text in outputs
    ]
    document = {"to": target, "files": converted, "warnings": said}
    if directory is None:
        if machine:
            print_json(document)
        else:
            click.echo(outputs[0][1], nl=False)
        return
    os.makedirs(directory, exist_ok=True)
    suffix = ".yaml" if target == "ops" else ".openslo.yaml"
    for (file, text), entry in zip(outputs, converted, strict=True):
        path = os.path.join(directory, file.service + suffix)
        if os.path.abspath(path) in sources:
            raise ConfigError(f"{path}: is one of the files being converted; choose another --dir")
        try:  # never through a link planted at that name in a shared folder
            write_atomically(path, text)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
        entry["path"] = path
        if not machine:
            click.echo(path)
    if machine:
        for entry in converted:
            del entry["text"]  # written to its path
        print_json(document)


@slo.command("correct")
@click.argument("selector", metavar="SERVICE/SLO", shell_complete=_slo_keys)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--start", required=True, metavar="TIME", help="When the span began.")
@click.option("--end", required=True, metavar="TIME", help="When it ended (may be ahead).")
@click.option("--reason", required=True, help="Why these events do not count (an incident id).")
@config_option
@output_option("table", "json", "yaml")
def correct_command(
    selector: str,
    paths: tuple[str, ...],
    start: str,
    end: str,
    reason: str,
    config_path: str | None,
    output: str,
) -> None:
    """Take a span out of SERVICE/SLO's budget: its events count neither good nor bad.

    Appends a one-off correction to the SLO's own file (ops/v1) or to the corrections.yaml
    beside it (other formats), changing no other byte. TIME is ISO 8601 (UTC without an
    offset), unix seconds, now, or now-2h; the span may not start in the future.

    \b
    Examples:
      ops slo correct search/availability --start 2026-11-03T14:00Z \\
          --end 2026-11-03T15:30Z --reason "INC-231: bad deploy, rolled back"
      ops slo correct search/availability --start now-45m --end now \\
          --reason INC-232 -o json
    """
    from datetime import UTC, datetime

    from ops_toolkit.config import load_config
    from ops_toolkit.slo.correct import add_correction, parse_when

    now = datetime.now(UTC).replace(microsecond=0)  # now-1h..now: exactly an hour
    times = []
    for option, value in (("--start", start), ("--end", end)):
        try:
            times.append(parse_when(value, now))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None
    from ops_toolkit.cli.settings import slo_paths

    where = slo_paths(paths, load_config(config_path))
    written = add_correction(where, selector, times[0], times[1], reason, now)
    document = {
        "slo": selector,
        "file": written.path,
        "created": written.created,
        "already_recorded": written.already,
        **written.correction.to_dict(),
    }
    if output != "table":
        print_document(document, output)
        return
    if written.already:
        click.echo(
            f"{written.path}: unchanged: {selector}: {document['start']} to {document['end']} "
            f"is already corrected out ({written.correction.reason})"
        )
        return
    verb = "created" if written.created else "updated"
    click.echo(
        f"{written.path}: {verb}: {selector}: {document['start']} to {document['end']} "
        f"corrected out ({written.correction.reason})"
    )
