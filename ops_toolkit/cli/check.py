"""``ops check`` and ``ops routes test``: configuration checks, as amtool has them."""

from __future__ import annotations

import click

from ops_toolkit.cli.options import config_option, output_option, print_document


@click.command("check")
@config_option
@click.option(
    "--slos", "slo_paths", multiple=True, help="SLO files or folders (default from ops.yaml)."
)
@click.option(
    "--runbooks",
    "runbook_paths",
    multiple=True,
    help="Runbook files or folders (default from ops.yaml).",
)
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Prometheus rule files whose alerts runbooks may claim (e.g. kube-prometheus's).",
)
@click.option(
    "--rollouts",
    "rollout_paths",
    multiple=True,
    help="Rollout plan files or folders (default: rollouts/ when present).",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@output_option("table", "json", "yaml")
def check_command(
    config_path: str | None,
    slo_paths: tuple[str, ...],
    runbook_paths: tuple[str, ...],
    rule_files: tuple[str, ...],
    rollout_paths: tuple[str, ...],
    strict: bool,
    output: str,
) -> None:
    """Validate everything in one pass: ops.yaml, routes, SLOs, runbooks, rollout plans, and
    the references between them. Exit 1 on errors (and warnings with --strict).

    \b
    Examples:
      ops check --rules kube-prometheus.rules.yaml
    """
    from ops_toolkit.check import check_all
    from ops_toolkit.cli.settings import RUNBOOKS_DIR_ENV, runbooks_folder
    from ops_toolkit.config import OpsConfig

    # OPS_RUNBOOKS_DIR over ops.yaml's runbooks:, as 'ops runbook' reads it (check_all reads
    # ops.yaml, and reports it when it is wrong)
    chosen = runbooks_folder(None, OpsConfig())
    if not runbook_paths and chosen.origin == RUNBOOKS_DIR_ENV:
        runbook_paths = (chosen.value,)
    report = check_all(
        config_path,
        slo_paths=slo_paths,
        runbook_paths=runbook_paths,
        rule_files=rule_files,
        rollout_paths=rollout_paths,
    )
    if output != "table":
        print_document(
            {
                "errors": report.errors,
                "warnings": report.warnings,
                "checked": report.counts,
                "problems": [p.as_dict() for p in report.problems],
            },
            output,
        )
    else:
        for problem in report.problems:
            click.echo(str(problem))
        read = ", ".join(f"{n} {part}" for part, n in report.counts.items())
        click.echo(
            f"checked {read}: {report.errors} error(s), {report.warnings} warning(s)", err=True
        )
    if report.errors or (strict and report.warnings):
        raise SystemExit(1)


@click.group("routes")
def routes() -> None:
    """Where alerts go: test the routes in alerts/routes.yaml.

    \b
    Examples:
      ops routes test service=search severity=page
    """


@routes.command("test")
@click.argument("labels", nargs=-1, required=True, metavar="LABEL=VALUE...")
@config_option
@click.option("--routes", "routes_path", type=click.Path(dir_okay=False), help="A routes file.")
@output_option("table", "json", "yaml")
def routes_test_command(
    labels: tuple[str, ...],
    config_path: str | None,
    routes_path: str | None,
    output: str,
) -> None:
    """Print the channels (and mentions) an alert with LABELS reaches.

    \b
    Examples:
      ops routes test service=search severity=page
    """
    from ops_toolkit.check import routes_file
    from ops_toolkit.config import load_config
    from ops_toolkit.escalate.route import load_routes

    parsed: dict[str, str] = {}
    for item in labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected LABEL=VALUE, got {item!r}", param_hint="LABELS")
        parsed[name] = value
    config = load_config(config_path)
    routing = load_routes(routes_path or routes_file(config))
    targets = routing.targets(parsed)
    if output != "table":
        print_document([{"channel": t.channel, "mention": t.mention} for t in targets], output)
        return
    for target in targets:
        click.echo(target.channel + (f" (mention {target.mention})" if target.mention else ""))


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Examples:
      eval "$(ops completion bash)"            # in ~/.bashrc
      ops completion fish > ~/.config/fish/completions/ops.fish
    """
    from click.shell_completion import get_completion_class

    from ops_toolkit.cli import main

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(main, {}, "ops", "_OPS_COMPLETE").source())
