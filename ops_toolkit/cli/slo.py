"""``ops slo ...``: thin commands over ``ops_toolkit.slo``."""

from __future__ import annotations

import time
from typing import Any

import click

from ops_toolkit.cli.options import json_option, print_json, prometheus_option
from ops_toolkit.errors import ConfigError


@click.group()
def slo() -> None:
    """Validate SLOs, report error budgets and burn rates, gate rollouts."""


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


def _source(prometheus_url: str | None, timeout: float) -> Any:
    if not prometheus_url:
        from ops_toolkit.runbook.execute import no_metrics

        return no_metrics()
    from ops_toolkit.metrics.prometheus import PrometheusSource

    return PrometheusSource(prometheus_url, timeout=timeout)


def _query_options(func: Any) -> Any:
    func = click.option(
        "--at", help="Evaluate at this time (RFC 3339 or unix seconds; default now)."
    )(func)
    func = click.option(
        "--timeout", default=10.0, show_default=True, help="Seconds each query may take."
    )(func)
    return prometheus_option(func)


@slo.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@_query_options
@json_option
def validate_command(
    paths: tuple[str, ...],
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
    as_json: bool,
) -> None:
    """Check SLO definitions (default slos/); with --prometheus, also check them against
    live data: every selector matches series in the SLO's period and a latency SLI's bucket
    bound exists. Exit 1 on any error; warnings do not fail.

    Every format is read: ops/v1, OpenSLO v1 and v1alpha, Sloth (prometheus/v1 and
    PrometheusServiceLevel) and Pyrra (ServiceLevelObjective).

    \b
    Examples:
      ops slo validate slos/search.yaml
      ops slo validate --prometheus http://127.0.0.1:9090
    """
    from ops_toolkit.slo.spec import load_slo_files

    files = load_slo_files(paths or ("slos",))
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
    findings = []
    if prometheus_url:
        from ops_toolkit.slo.live import check_live

        slos = [s for f in files for s in f.slos]
        findings = check_live(slos, _source(prometheus_url, timeout), _parse_at(at))
    errors = [f for f in findings if f.level == "error"]
    if as_json:
        print_json(
            rows if not prometheus_url else {"slos": rows, "findings": [vars(f) for f in findings]}
        )
    else:
        for row in rows:
            click.echo(
                f"{row['path']}: {row['service']}/{row['slo']}: {row['objective']:g}% over "
                f"{row['window']}"
            )
        for finding in findings:
            click.echo(f"{finding.level.capitalize()}: {finding.message}", err=True)
    if errors:
        raise SystemExit(1)
    checked = " and against live data" if prometheus_url else ""
    if not as_json:
        click.echo(f"{len(rows)} SLO(s) in {len(files)} file(s): valid{checked}", err=True)


@slo.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@_query_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown", "html"]),
    default="table",
    show_default=True,
)
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
@click.option("--name", help="The report schedule to run with --once.")
@click.option("--force", is_flag=True, help="With --once: post even if this slot was posted.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="ops.yaml (schedules, state, Prometheus; default ./ops.yaml when present).",
)
@click.option(
    "--use-rules",
    is_flag=True,
    help="Read the series 'ops slo rules' records: one query per window for all SLOs.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Print the query plan (each query, its range, the SLOs it serves); query nothing.",
)
def report_command(
    paths: tuple[str, ...],
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
    output_format: str,
    keep_going: bool,
    use_rules: bool,
    channel: str | None,
    chart: str | None,
    once: bool,
    name: str | None,
    force: bool,
    config_path: str | None,
    explain: bool,
) -> None:
    """Error budgets and burn rates of the SLOs in PATHS (default slos/), worst first.

    Every query is evaluated at one pinned time (--at). Exit 1 when Prometheus fails.

    \b
    Examples:
      ops slo report --prometheus http://127.0.0.1:9090
      ops slo report slos/search.yaml --at 2026-11-30T09:00:00Z --format json
      ops slo report --use-rules     # recorded series: cost does not grow with SLOs
      ops slo report --explain       # the queries it would send, and what each serves
    """
    from ops_toolkit.config import load_config
    from ops_toolkit.slo import report
    from ops_toolkit.slo.evaluate import evaluate, evaluate_recorded
    from ops_toolkit.slo.spec import datasource_url, load_slos

    config = load_config(config_path)
    prometheus_url = prometheus_url or config.prometheus
    if once:
        _run_schedule(config, name, force)
        return
    slos = load_slos(paths or config.slos)
    if explain:
        from ops_toolkit.slo.evaluate import query_plan
        from ops_toolkit.slo.windows import windows_of

        direct = [s for s in slos if not (use_rules and s.window.rolling)]
        rolling = [s for s in slos if use_rules and s.window.rolling]
        plan = query_plan(direct, _parse_at(at))
        click.echo(report.explain(plan, len(rolling), windows_of(rolling)), nl=False)
        return
    prometheus_url = prometheus_url or datasource_url(slos)
    run = evaluate_recorded if use_rules else evaluate
    source = _source(prometheus_url, timeout)
    statuses = run(slos, source, _parse_at(at), keep_going=keep_going)
    for status in statuses:
        if status.error:
            click.echo(f"Error: {status.error}", err=True)
    charts: list[Any] = []
    png: bytes | None = None
    if chart or output_format == "html":
        from ops_toolkit.slo.burndown import burndowns

        charts = burndowns(statuses, source)
    if chart:
        from ops_toolkit.slo.html import render_png

        png = render_png(charts)
        with open(chart, "wb") as handle:
            handle.write(png)
    if output_format == "json":
        print_json([report.status_document(s) for s in report.sort_worst_first(statuses)])
    elif output_format == "markdown":
        click.echo(report.markdown(statuses), nl=False)
    elif output_format == "html":
        from ops_toolkit.slo.html import render_html

        click.echo(render_html(statuses, charts), nl=False)
    else:
        from rich.console import Console

        Console().print(report.table(statuses))
    if channel:
        _post(config, statuses, channel, png)
    if any(s.error for s in statuses):
        raise SystemExit(1)


def _post(config: Any, statuses: Any, channel: str, png: bytes | None) -> None:
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
    )
    store = Store(config.serve.state)
    _deliver(store, make_notifier(config), store.enqueue(planned, time.time()), config)


def _deliver(store: Any, notifier: Any, ids: list[int], config: Any) -> None:
    from ops_toolkit.serve.worker import deliver_now

    problems = deliver_now(store, notifier, ids, pace=config.serve.pace_seconds)
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"posted {len(ids)} message(s)", err=True)


def _run_schedule(config: Any, name: str | None, force: bool) -> None:
    from ops_toolkit.metrics.prometheus import PrometheusSource
    from ops_toolkit.reports.scheduled import ReportPublisher
    from ops_toolkit.serve.service import make_notifier
    from ops_toolkit.serve.store import Store

    if not name:
        raise click.UsageError("--once needs --name (a report in ops.yaml)")
    if not config.prometheus:
        raise ConfigError(f"{config.source or 'ops.yaml'}: reports need 'prometheus: URL'")
    url = config.prometheus
    store = Store(config.serve.state)
    ids = ReportPublisher(config, store, lambda: PrometheusSource(url)).run_by_hand(
        name, time.time(), force=force
    )
    if ids is None:
        click.echo(
            f"report {name!r}: this slot was already posted (use --force to post again)", err=True
        )
        return
    _deliver(store, make_notifier(config), ids, config)


@slo.command("gate")
@click.argument("selector", metavar="SERVICE/SLO")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--min-remaining",
    type=click.FloatRange(0, 1),
    help="Smallest budget remaining (0-1) that lets the rollout go on "
    "[default: the policy's gate in ops.yaml, else 0.25].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="ops.yaml with the error-budget policy (default ./ops.yaml when present).",
)
@_query_options
def gate_command(
    selector: str,
    paths: tuple[str, ...],
    min_remaining: float | None,
    config_path: str | None,
    prometheus_url: str | None,
    timeout: float,
    at: str | None,
) -> None:
    """Rollout gate: exit 0 while SERVICE/SLO has budget left, 3 when it does not, 1 on error.

    Without --min-remaining the policy in ops.yaml decides ('gate: 0' is a deploy freeze once
    the budget is spent).

    Example: ops slo gate search/availability --min-remaining 0.25 && widen-pilot
    """
    from ops_toolkit.config import load_config
    from ops_toolkit.reports.scheduled import gate_minimum
    from ops_toolkit.slo.evaluate import evaluate
    from ops_toolkit.slo.report import gate_verdict
    from ops_toolkit.slo.spec import datasource_url, load_slos
    from ops_toolkit.suggest import did_you_mean

    config = load_config(config_path)
    where = paths or config.slos
    slos = load_slos(where)
    chosen = [s for s in slos if s.key == selector]
    if not chosen:
        hint = did_you_mean(selector, [s.key for s in slos])
        raise ConfigError(f"no SLO {selector!r} in {', '.join(where)}{hint}")
    if min_remaining is None:
        policy = gate_minimum(config, chosen[0])
        min_remaining = policy if policy is not None else 0.25
    url = prometheus_url or config.prometheus or datasource_url(chosen)
    status = evaluate(chosen, _source(url, timeout), _parse_at(at), keep_going=True)[0]
    passed, reason = gate_verdict(status, min_remaining)
    click.echo(reason)
    if status.status == "error":
        raise SystemExit(1)
    raise SystemExit(0 if passed else 3)


@slo.command("rules")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    "directory",
    default="alerts",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the rule files go.",
)
@click.option(
    "--runbook-base-url",
    envvar="OPS_RUNBOOK_BASE_URL",
    metavar="URL",
    help="Prefix of runbook links in alerts (env OPS_RUNBOOK_BASE_URL).",
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
@json_option
def rules_command(
    paths: tuple[str, ...],
    directory: str,
    runbook_base_url: str | None,
    check: bool,
    with_tests: bool,
    output_format: str,
    inhibit_path: str | None,
    as_json: bool,
) -> None:
    """Generate Prometheus recording and burn-rate alerting rules from SLOs (default slos/).

    One file per SLO file, alerts/<service>.rules.yaml; the same input gives the same bytes.

    \b
    Examples:
      ops slo rules -o alerts/ --tests --inhibit alerts/inhibit.yaml
      ops slo rules --check          # in CI: fail when alerts/ is stale
      ops slo rules --format prometheusrule -o deploy/rules/   # for prometheus-operator
    """
    import os

    from ops_toolkit.slo.rulefiles import stale_file, stale_files, write_files
    from ops_toolkit.slo.rules import generate, render_inhibit
    from ops_toolkit.slo.spec import load_slo_files

    files = load_slo_files(paths or ("slos",))
    if with_tests and output_format != "plain":
        raise click.UsageError("--tests needs --format plain: promtool tests read plain rule files")
    generated = generate(files, runbook_base_url, with_tests, output_format)
    inhibit = render_inhibit(files) if inhibit_path else None
    if check:
        problems = stale_files(generated, directory)
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
    changed = write_files(generated, directory)
    written = [f"{directory.rstrip('/')}/{name}" for name in sorted(generated)]
    if inhibit_path and inhibit is not None:
        folder, name = os.path.split(inhibit_path)
        changed += write_files({name: inhibit}, folder or ".")
        written.append(inhibit_path)
    if as_json:
        print_json({"written": changed, "files": sorted(generated), "inhibit": inhibit_path})
        return
    for path in written:
        updated = any(os.path.samefile(p, path) for p in changed)
        click.echo(path + (" (updated)" if updated else " (unchanged)"))


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
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False),
    help="Write <service>.yaml (ops) or <service>.openslo.yaml here; default: standard output.",
)
def convert_command(paths: tuple[str, ...], target: str, directory: str | None) -> None:
    """Convert SLO files of any format to ops/v1 or OpenSLO, one file per service.

    What the target format has no place for is reported as a warning, never silently
    dropped; reading the written file gives the same SLOs otherwise.

    \b
    Examples:
      ops slo convert sloth/ pyrra/ --to ops -o slos/
      ops slo convert slos/search.yaml --to openslo > search.openslo.yaml
    """
    import os

    from ops_toolkit.slo.formats.write import WRITERS
    from ops_toolkit.slo.spec import load_slo_files

    files = load_slo_files(paths)
    if directory is None and len(files) > 1:
        raise click.UsageError(f"{len(files)} SLO files: give -o DIR to write one file each")
    sources = {os.path.abspath(f.source) for f in files}
    outputs = []
    for file in files:
        text, warnings = WRITERS[target](file)
        for warning in warnings:
            click.echo(f"Warning: {warning}", err=True)
        if text is None:
            continue
        header = f"# Converted by 'ops slo convert --to {target}' from {file.source}\n"
        outputs.append((file, header + text))
    if not outputs:
        raise ConfigError(f"{', '.join(paths)}: nothing can be written as {target}")
    if directory is None:
        click.echo(outputs[0][1], nl=False)
        return
    os.makedirs(directory, exist_ok=True)
    suffix = ".yaml" if target == "ops" else ".openslo.yaml"
    for file, text in outputs:
        path = os.path.join(directory, file.service + suffix)
        if os.path.abspath(path) in sources:
            raise ConfigError(f"{path}: is one of the files being converted; choose another -o")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(path)
