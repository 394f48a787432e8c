"""``ops store ...``: moving ``ops serve``'s store between backends."""

from __future__ import annotations

import click

from ops_toolkit.cli.options import (
    STATE_ENV,
    no_password_on_command_line,
    output_option,
    print_document,
)


@click.group("store")
def store() -> None:
    """Move ops serve's store (SQLite to PostgreSQL, for replicas).

    \b
    Examples:
      export OPS_STATE=postgresql://ops:PASSWORD@db:5432/ops
      ops store migrate --from sqlite:ops-state.db
    """


@store.command("migrate")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="sqlite:PATH",
    help="The SQLite store ops serve used (serve.state).",
)
@click.option(
    "--to",
    "target",
    envvar="OPS_STATE",
    metavar="postgresql://...",
    callback=no_password_on_command_line(STATE_ENV),
    help="An empty PostgreSQL database, postgresql://USER:PASSWORD@HOST:PORT/DB "
    "(default: $OPS_STATE: a password in --to is refused).",
)
@output_option("table", "json", "yaml")
def migrate_command(source: str, target: str | None, output: str) -> None:
    """Copy a SQLite store into PostgreSQL, outbox ids and all: nothing is sent twice.

    Stop every ops serve on the SQLite store first (migrate refuses while one runs); start
    the replicas on the PostgreSQL database after. The target must be empty: a finished
    migration is not run twice, and an interrupted one left nothing behind.

    A password in --to would be on the command line, which every local user can read
    (ps, /proc): it is refused; set OPS_STATE instead.

    \b
    Examples:
      export OPS_STATE=postgresql://ops:PASSWORD@db:5432/ops
      ops store migrate --from sqlite:ops-state.db
      ops store migrate --from ops-state.db -o json
    """
    from ops_toolkit.serve.migrate import migrate_store

    if not target:  # not click's required=True: its help said "[required]" beside a default
        raise click.UsageError(
            "no target: set OPS_STATE=postgresql://USER:PASSWORD@HOST:PORT/DB (or give --to)"
        )
    given = click.get_current_context().get_parameter_source("target")
    target_from = "OPS_STATE" if given == click.core.ParameterSource.ENVIRONMENT else "--to"
    result = migrate_store(source, target, target_from)
    if output != "table":
        print_document(result.as_dict(), output)
        return
    moved = ", ".join(f"{table} {count}" for table, count in result.rows.items())
    click.echo(f"migrated {result.source} to {result.target} (schema {result.schema_version})")
    click.echo(f"rows: {moved}")
    click.echo(
        f"{result.pending} outbox entr{'y' if result.pending == 1 else 'ies'} to deliver: "
        "start ops serve on the new store (OPS_STATE, --state or serve.state)"
    )
