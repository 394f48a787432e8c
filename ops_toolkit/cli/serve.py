"""``ops serve`` and ``ops outbox ...``: thin commands over ``ops_toolkit.escalate``."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import Any

import click

from ops_toolkit.cli import complete
from ops_toolkit.cli.options import (
    config_option,
    output_option,
    print_document,
    state_option,
    with_serve_state,
)
from ops_toolkit.errors import ConfigError


def _config(config_path: str | None, listen: str | None, state: str | None) -> Any:
    from ops_toolkit.config import load_config, parse_listen

    config = load_config(config_path)
    serve = config.serve
    if listen:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--listen") from None
        serve = dataclasses.replace(serve, host=host, port=port)
    return with_serve_state(dataclasses.replace(config, serve=serve), state)


def _existing_store(config_path: str | None, state: str | None) -> Any:
    """The store ``ops serve`` writes; listing must not create an empty one elsewhere."""
    from ops_toolkit.serve.store import Store
    from ops_toolkit.serve.store.backends import require_existing

    config = _config(config_path, None, state)
    require_existing(config.serve.state)
    return Store(config.serve.state, busy_timeout=config.store.busy_timeout)


@click.command("serve")
@config_option
@click.option(
    "--listen", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:9095)."
)
@state_option
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Accept webhooks without a bearer token (local tries only).",
)
def serve_command(
    config_path: str | None, listen: str | None, state: str | None, insecure_no_auth: bool
) -> None:
    """Receive Alertmanager webhooks and escalate them to Slack (or the console).

    Point an Alertmanager webhook receiver at http://HOST:PORT/alertmanager with
    'authorization: {credentials: <OPS_WEBHOOK_TOKEN>}'. Messages go to Slack when
    SLACK_BOT_TOKEN is set (SLACK_API_URL for another Slack-compatible API), else to the
    console and a JSON Lines file.

    \b
    Examples:
      OPS_WEBHOOK_TOKEN=s3cret ops serve --listen 127.0.0.1:9095
    """
    from ops_toolkit.serve.service import serve

    token = os.environ.get("OPS_WEBHOOK_TOKEN") or None
    if token is None and not insecure_no_auth:
        raise ConfigError(
            "OPS_WEBHOOK_TOKEN is not set: set it (Alertmanager sends it as a bearer token) or "
            "pass --insecure-no-auth for a local try"
        )
    if token is not None:
        from ops_toolkit.config import refuse_placeholder

        refuse_placeholder("OPS_WEBHOOK_TOKEN", token)
    serve(_config(config_path, listen, state), token=token)


@click.group("outbox")
def outbox() -> None:
    """Inspect and re-queue chat messages waiting in (or given up by) the outbox.

    \b
    Examples:
      ops outbox list --status dead
      ops outbox retry --all
    """


@outbox.command("list")
@config_option
@state_option
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "dead", "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--inbox",
    is_flag=True,
    help="List the webhook payloads given up on (dead letters of processing) instead.",
)
@output_option("table", "wide", "json", "yaml")
def outbox_list(
    config_path: str | None, state: str | None, status: str, inbox: bool, output: str
) -> None:
    """List outbox entries, newest first (times in UTC).

    \b
    Examples:
      ops outbox list --status dead
      ops outbox list -o wide        # with the group key and the whole last error
    """
    store = _existing_store(config_path, state)
    if inbox:
        _list_dead_payloads(store, output)
        return
    entries = store.entries(None if status == "all" else [status])
    rows = [
        {
            "id": e.id,
            "status": e.status,
            "action": e.action,
            "channel": e.channel,
            "group_key": e.group_key,
            "attempts": e.attempts,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.created_at)),
            "last_error": e.last_error,
            "text": e.message.get("text", ""),
        }
        for e in entries
    ]
    if output in ("json", "yaml"):
        print_document(rows, output)
        return
    from ops_toolkit.cli.tables import print_fitted

    print_fitted(
        lambda columns: _outbox_table(rows, columns),
        OUTBOX_COLUMNS,
        OUTBOX_DROP_ORDER,
        wide=output == "wide",
        spare=16,
    )
    click.echo(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", err=True)


OUTBOX_COLUMNS = (
    "id",
    "status",
    "action",
    "channel",
    "tries",
    "created (UTC)",
    "group",
    "text",
    "last error",
)
"""The columns of ``ops outbox list``, in display order (``-o wide`` shows them all)."""

OUTBOX_DROP_ORDER = ("group", "action", "tries", "text")
"""Given up first on a narrow terminal; id (what ``retry`` takes), status, channel, time
and the error (why it is dead) stay."""


def _outbox_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Outbox, newest first", title_justify="left")
    wrapping = ("text", "last error", "group")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in ("id", "tries") else "left",
            no_wrap=column not in wrapping,
            overflow="fold",
        )
    for row in rows:
        cells = {
            "id": str(row["id"]),
            "status": Text(row["status"], style=_OUTBOX_STYLE.get(row["status"], "")),
            "action": row["action"],
            "channel": Text(row["channel"]),
            "tries": str(row["attempts"]),
            "created (UTC)": row["created_at"].replace("T", " ").removesuffix("Z"),
            "group": Text(row["group_key"]),
            "text": Text(row["text"]),
            "last error": Text(row["last_error"] or ""),
        }
        table.add_row(*(cells[column] for column in columns))
    return table


_OUTBOX_STYLE = {"dead": "red", "pending": "yellow", "sending": "yellow", "sent": "green"}


def _list_dead_payloads(store: Any, output: str) -> None:
    rows = [
        {
            "id": inbox_id,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(received)),
            "reason": reason,
        }
        for inbox_id, received, reason in store.dead_inbox()
    ]
    if output in ("json", "yaml"):
        print_document(rows, output)
        return
    from rich.table import Table
    from rich.text import Text

    from ops_toolkit.cli.tables import print_trimmed

    table = Table(title="Webhook payloads given up on", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("received (UTC)", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for row in rows:
        received = row["received_at"].replace("T", " ").removesuffix("Z")
        table.add_row(str(row["id"]), received, Text(row["reason"]))
    print_trimmed(table)
    click.echo(f"{len(rows)} payload{'' if len(rows) == 1 else 's'} given up on", err=True)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int, shell_complete=complete.dead_outbox_ids)
@click.option("--all", "every", is_flag=True, help="Re-queue every dead entry.")
@click.option(
    "--inbox", is_flag=True, help="Re-queue dead webhook payloads (ids from 'list --inbox')."
)
@config_option
@state_option
def outbox_retry(
    ids: tuple[int, ...], every: bool, inbox: bool, config_path: str | None, state: str | None
) -> None:
    """Re-queue dead entries (by id, or --all); a running 'ops serve' delivers them.

    An id that is not dead (sent, still pending, unknown) is named with what it is; exit 1.

    \b
    Examples:
      ops outbox retry --all
    """
    if not ids and not every:
        raise click.UsageError("give entry ids or --all")
    store = _existing_store(config_path, state)
    chosen = None if every else list(ids)
    if inbox:
        count = store.requeue_inbox(chosen, time.time())
        click.echo(f"re-queued {count} payload{'' if count == 1 else 's'}")
        return
    before = store.entries_by_id(chosen or [])
    count = store.requeue(chosen, time.time())
    click.echo(f"re-queued {count} entr{'y' if count == 1 else 'ies'}")
    reasons = [_why_not_requeued(n, before.get(n)) for n in ids if _not_dead(before.get(n))]
    for reason in reasons:
        click.echo(reason, err=True)
    if reasons:
        raise SystemExit(1)


def _not_dead(entry: Any) -> bool:
    return entry is None or entry.status != "dead"


def _why_not_requeued(entry_id: int, entry: Any) -> str:
    """Only dead entries go back to the queue: say what the others are instead."""
    if entry is None:
        return f"entry {entry_id}: no such entry (ops outbox list shows the ids)"
    if entry.status == "sent":
        return f"entry {entry_id}: already sent to {entry.channel}; nothing to re-queue"
    return (
        f"entry {entry_id}: {entry.status}, not dead: it is still being delivered; "
        "nothing to re-queue"
    )
