"""``ops runbook ...``: thin commands over ``ops_toolkit.runbook``."""

from __future__ import annotations

import click

from ops_toolkit.cli.options import json_option, print_json, runbooks_dir_option


@click.group()
def runbook() -> None:
    """List, lint, show and run runbooks (Markdown with step blocks)."""


@runbook.command("list")
@click.argument("directory", default="runbooks", envvar="OPS_RUNBOOKS_DIR", type=click.Path())
@json_option
def list_command(directory: str, as_json: bool) -> None:
    """List the runbooks in DIRECTORY (default runbooks/).

    Example: ops runbook list --json
    """
    from ops_toolkit.runbook.catalog import load_runbooks
    from ops_toolkit.runbook.view import list_table, runbook_summary

    runbooks = load_runbooks([directory])
    if as_json:
        print_json([runbook_summary(r) for r in runbooks])
        return
    from rich.console import Console

    Console().print(list_table(runbooks))


@runbook.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@json_option
def lint_command(paths: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Check runbooks for errors and hazards (default: runbooks/).

    Each finding is 'path:line: level: message'. Exit 1 on errors (and warnings with
    --strict).

    Example: ops runbook lint runbooks/search-errors.md --strict
    """
    from ops_toolkit.runbook.catalog import lint_paths

    findings = lint_paths(paths or ("runbooks",))
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    if as_json:
        print_json([f.as_dict() for f in findings])
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    if errors or (strict and warnings):
        raise SystemExit(1)


@runbook.command("show")
@click.argument("reference")
@runbooks_dir_option
@json_option
def show_command(reference: str, directory: str, as_json: bool) -> None:
    """Show RUNBOOK (a path, or a name in --dir): sections, steps and params.

    Example: ops runbook show restart-after-outage
    """
    from ops_toolkit.runbook.catalog import load_runbook
    from ops_toolkit.runbook.view import runbook_document, show_renderables

    loaded = load_runbook(reference, directory)
    if as_json:
        print_json(runbook_document(loaded))
        return
    from rich.console import Console

    console = Console()
    for part in show_renderables(loaded):
        console.print(part)
