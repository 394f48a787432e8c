"""``ops serve`` and ``ops outbox ...``: thin commands over ``ops_toolkit.escalate``."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import click

from ops_toolkit.cli.options import json_option, print_json
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
    if state:
        serve = dataclasses.replace(serve, state=state)
    return dataclasses.replace(config, serve=serve)


def _existing_store(config_path: str | None, state: str | None) -> Any:
    """The store ``ops serve`` writes; listing must not create an empty one elsewhere."""
    from ops_toolkit.serve.store import Store

    path = _config(config_path, None, state).serve.state
    if not os.path.exists(path):
        raise ConfigError(
            f"{path}: no such store; pass the one 'ops serve' uses (--state, or serve.state in "
            "ops.yaml)"
        )
    return Store(path)


def _state_option(func: Any) -> Any:
    return click.option(
        "--state",
        type=click.Path(dir_okay=False),
        help="SQLite store (default from ops.yaml, else ops-state.db).",
    )(func)


def _config_option(func: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="ops.yaml (default: ./ops.yaml when present).",
    )(func)


@click.command("serve")
@_config_option
@click.option(
    "--listen", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:9095)."
)
@_state_option
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

    Example: OPS_WEBHOOK_TOKEN=s3cret ops serve --listen 127.0.0.1:9095
    """
    from ops_toolkit.serve.service import serve

    token = os.environ.get("OPS_WEBHOOK_TOKEN") or None
    if token is None and not insecure_no_auth:
        raise ConfigError(
            "OPS_WEBHOOK_TOKEN is not set: set it (Alertmanager sends it as a bearer token) or "
            "pass --insecure-no-auth for a local try"
        )
    serve(_config(config_path, listen, state), token=token)


@click.group("outbox")
def outbox() -> None:
    """Inspect and re-queue chat messages waiting in (or given up by) the outbox."""


@outbox.command("list")
@_config_option
@_state_option
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
@json_option
def outbox_list(
    config_path: str | None, state: str | None, status: str, inbox: bool, as_json: bool
) -> None:
    """List outbox entries, newest first.

    Example: ops outbox list --status dead
    """
    store = _existing_store(config_path, state)
    if inbox:
        _list_dead_payloads(store, as_json)
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
    if as_json:
        print_json(rows)
        return
    for row in rows:
        error = f"  ({row['last_error']})" if row["last_error"] else ""
        click.echo(
            f"{row['id']:>6} {row['status']:<8} {row['action']:<6} {row['channel']:<20} "
            f"{row['attempts']} attempt(s)  {row['text'][:60]}{error}"
        )
    click.echo(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", err=True)


def _list_dead_payloads(store: Any, as_json: bool) -> None:
    rows = [
        {
            "id": inbox_id,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(received)),
            "reason": reason,
        }
        for inbox_id, received, reason in store.dead_inbox()
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:>6} {row['received_at']}  {row['reason']}")
    click.echo(f"{len(rows)} payload{'' if len(rows) == 1 else 's'} given up on", err=True)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Re-queue every dead entry.")
@click.option(
    "--inbox", is_flag=True, help="Re-queue dead webhook payloads (ids from 'list --inbox')."
)
@_config_option
@_state_option
def outbox_retry(
    ids: tuple[int, ...], every: bool, inbox: bool, config_path: str | None, state: str | None
) -> None:
    """Re-queue dead entries (by id, or --all); a running 'ops serve' delivers them.

    Example: ops outbox retry --all
    """
    if not ids and not every:
        raise click.UsageError("give entry ids or --all")
    store = _existing_store(config_path, state)
    chosen = None if every else list(ids)
    if inbox:
        count = store.requeue_inbox(chosen, time.time())
        click.echo(f"re-queued {count} payload{'' if count == 1 else 's'}")
        return
    count = store.requeue(chosen, time.time())
    click.echo(f"re-queued {count} entr{'y' if count == 1 else 'ies'}")
