"""``ops escalation list|ack|resolve|escalate``: the Slack buttons from a terminal or script.

The command changes the store exactly as a button does (same compare-and-set, same audit
log, same status line on the Slack message); a running ``ops serve`` delivers the messages
and pages the next tier.
"""

from __future__ import annotations

import getpass
import time
from typing import Any

import click

from ops_toolkit.cli.options import (
    config_option,
    output_option,
    print_document,
    serve_state,
    state_option,
)
from ops_toolkit.errors import OpsError


def _escalations(config_path: str | None, state: str | None) -> Any:
    from ops_toolkit.config import load_config, oncall_path
    from ops_toolkit.escalate.oncall import OncallConfig, load_oncall
    from ops_toolkit.serve.escalations import Escalations
    from ops_toolkit.serve.store import Store
    from ops_toolkit.serve.store.backends import require_existing

    config = load_config(config_path)
    path = serve_state(state, config)
    require_existing(path)
    oncall_file = oncall_path(config)
    oncall = load_oncall(oncall_file) if oncall_file else OncallConfig()
    return config, Escalations(Store(path, busy_timeout=config.store.busy_timeout), oncall)


def _options(func: Any) -> Any:
    return config_option(state_option(func))


@click.group("escalation")
def escalation() -> None:
    """List escalations and act on them: acknowledge, resolve, escalate now.

    \b
    Examples:
      ops escalation list
      ops escalation ack 3f2a9c0d1e4b
    """


@escalation.command("list")
@click.option("--all", "every", is_flag=True, help="Include resolved ones.")
@_options
@output_option("table", "json", "yaml")
def list_escalations(every: bool, config_path: str | None, state: str | None, output: str) -> None:
    """Escalations, most recently changed first.

    \b
    Examples:
      ops escalation list -o json
    """
    _, escalations = _escalations(config_path, state)
    statuses = None if every else ("active", "acknowledged", "exhausted")
    rows = [
        {
            "ref": e.ref,
            "status": e.timeline.status,
            "alert": e.name,
            "channel": e.channel,
            "policy": e.policy,
            "next_step": e.timeline.step + 1,
            "next_page": _next_page(escalations.oncall.policies.get(e.policy), e.timeline.step),
            "due_at": e.timeline.due_at,
            "acknowledged_by": e.timeline.acknowledged_by,
            "last_action": e.last_action,
            "silence_id": e.silence_id,
        }
        for e in escalations.listing(statuses)
    ]
    if output != "table":
        print_document(rows, output)
        return
    for row in rows:
        due = (
            f" {row['next_page']} at {time.strftime('%H:%M:%S UTC', time.gmtime(row['due_at']))}"
            if row["due_at"]
            else ""
        )
        click.echo(
            f"{row['ref']}  {row['status']:<12} {row['alert']:<32} {row['channel']:<18}{due}"
            + (f"  ({row['last_action']})" if row["last_action"] else "")
        )
    click.echo(f"{len(rows)} escalation{'' if len(rows) == 1 else 's'}", err=True)


def _next_page(policy: Any, step: int) -> str:
    """``tier 2`` or, past the last tier, ``tier 3, repeat 1``: a step past the tiers is a
    repeat of the last one (a newcomer read ``tier 4`` of a three-tier policy)."""
    if policy is None:
        return f"step {step + 1}"
    tier, repeat = policy.tier_of(step)
    return f"tier {tier + 1}" + (f", repeat {repeat}" if repeat else "")


def _act(action: str, ref: str, config_path: str | None, state: str | None) -> None:
    config, escalations = _escalations(config_path, state)
    user = f"cli:{getpass.getuser()}"
    outcome = escalations.act(ref, action, actor=user, user=user, allowed=config.may)
    if not outcome.done and not outcome.text.startswith("Nothing to do"):
        raise OpsError(f"escalation {ref}: {outcome.text}")
    click.echo(outcome.text)


@escalation.command("ack")
@click.argument("ref")
@_options
def ack(ref: str, config_path: str | None, state: str | None) -> None:
    """Acknowledge: stop paging (REF from 'ops escalation list', or the Slack message).

    \b
    Examples:
      ops escalation ack 3f2a9c0d1e4b
    """
    _act("ack", ref, config_path, state)


@escalation.command("resolve")
@click.argument("ref")
@_options
def resolve(ref: str, config_path: str | None, state: str | None) -> None:
    """Resolve: end the escalation (a new firing starts again from tier 1).

    \b
    Examples:
      ops escalation resolve 3f2a9c0d1e4b
    """
    _act("resolve", ref, config_path, state)


@escalation.command("escalate")
@click.argument("ref")
@_options
def escalate(ref: str, config_path: str | None, state: str | None) -> None:
    """Page the next tier now.

    \b
    Examples:
      ops escalation escalate 3f2a9c0d1e4b
    """
    _act("escalate", ref, config_path, state)
