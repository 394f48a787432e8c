"""``ops oncall who|list|override``: thin commands over ``ops_toolkit.escalate.schedule``."""

from __future__ import annotations

import getpass
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click

from ops_toolkit.cli.options import (
    config_option,
    output_option,
    print_document,
    serve_state,
    state_option,
)
from ops_toolkit.errors import ConfigError


def _oncall_option(func: Any) -> Any:
    return click.option(
        "--oncall",
        "oncall_path",
        type=click.Path(dir_okay=False),
        help="On-call file (default: 'oncall:' in ops.yaml, else alerts/oncall.yaml).",
    )(func)


class Context:
    """What every oncall command loads: the schedules and, when there is one, the store."""

    def __init__(self, config_path: str | None, oncall_path: str | None, state: str | None):
        from ops_toolkit.config import load_config
        from ops_toolkit.config import oncall_path as default_oncall
        from ops_toolkit.escalate.oncall import load_oncall

        config = load_config(config_path)
        path = oncall_path or default_oncall(config)
        if path is None:
            raise ConfigError(
                "alerts/oncall.yaml: no such file; write one (see README, 'On call') or pass "
                "--oncall PATH"
            )
        self.oncall = load_oncall(path)
        self.state = serve_state(state, config)

    def store(self, create: bool = False) -> Any:
        from ops_toolkit.serve.overrides import OverrideStore
        from ops_toolkit.serve.store.backends import parse_state

        location = parse_state(self.state)
        if not create and location.scheme == "sqlite" and not os.path.exists(location.target):
            return None
        return OverrideStore(self.state)

    def overrides(self, schedule: str, start: datetime, end: datetime) -> list[Any]:
        store = self.store()
        if store is None:
            return []
        try:
            found: list[Any] = store.overrides(schedule, start.timestamp(), end.timestamp())
            return found
        finally:
            store.close()


# Schedules are read between these (a time at the calendar's edge overflows as soon as a
# zone's offset or a 60-day horizon is added), and listed a year at a time at most (one row a
# shift: a daily rotation over 8,000 years was millions of rows and minutes of work).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
MAX_LISTED = timedelta(days=366)


def _moment(text: str | None, zone: ZoneInfo, option: str) -> datetime:
    """``now``, or an ISO time; without an offset, in ``zone``."""
    from ops_toolkit.escalate.oncall import parse_moment

    if text is None or text == "now":
        return datetime.now(UTC)
    try:
        moment = parse_moment(text, zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if not EARLIEST <= moment < LATEST:  # the calendar's edges overflow a zone's offset
        raise click.BadParameter(
            f"expected a time from {EARLIEST.year} to {LATEST.year - 1}, got {text}",
            param_hint=option,
        )
    return moment


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, the one form of every time in -o json|yaml: a shift from
    the rotation and one from an override once came with different offsets."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.group("oncall")
def oncall() -> None:
    """Who is on call, when handoffs happen, and overrides.

    \b
    Examples:
      ops oncall who search-primary
      ops oncall list search-primary --from 2026-03-23 --to 2026-04-06
    """


@oncall.command("who")
@click.argument("schedule", required=False)
@click.option("--at", "at", metavar="TIME", help="ISO time (schedule's zone without offset).")
@_oncall_option
@config_option
@state_option
@output_option("table", "json", "yaml")
def who(
    schedule: str | None,
    at: str | None,
    oncall_path: str | None,
    config_path: str | None,
    state: str | None,
    output: str,
) -> None:
    """Who is on call now (or --at TIME), per schedule, and until when.

    \b
    Examples:
      ops oncall who search-primary --at 2026-03-29T09:30
    """
    context = Context(config_path, oncall_path, state)
    names = (
        [context.oncall.schedule(schedule).name] if schedule else sorted(context.oncall.schedules)
    )
    rows = []
    for name in names:
        entry = context.oncall.schedules[name]
        moment = _moment(at, entry.zone, "--at")
        horizon = moment + timedelta(days=60)
        overrides = context.overrides(name, moment, horizon)
        shifts = entry.shifts(moment, horizon, overrides)
        current = shifts[0] if shifts else None
        rows.append(
            {
                "schedule": name,
                "user": current.user if current else None,
                "until": _utc(current.end) if current and current.end < horizon else None,
                "timezone": entry.timezone,
            }
        )
        if output == "table":
            user = (current.user if current else None) or "(nobody)"
            until = (
                f" until {_local(current.end, entry.zone)}"
                if current and current.end < horizon
                else ""
            )
            click.echo(f"{name}: {user}{until}")
    if output != "table":
        print_document(rows, output)


@oncall.command("list")
@click.argument("schedule", required=False)
@click.option("--from", "start", metavar="TIME", help="Start (default now).")
@click.option("--to", "end", metavar="TIME", help="End (default 14 days after the start).")
@_oncall_option
@config_option
@state_option
@output_option("table", "json", "yaml")
def list_shifts(
    schedule: str | None,
    start: str | None,
    end: str | None,
    oncall_path: str | None,
    config_path: str | None,
    state: str | None,
    output: str,
) -> None:
    """Who is on call when, shift by shift, so handoffs can be checked.

    \b
    Examples:
      ops oncall list search-primary --from 2026-03-23 --to 2026-04-06
    """
    context = Context(config_path, oncall_path, state)
    names = (
        [context.oncall.schedule(schedule).name] if schedule else sorted(context.oncall.schedules)
    )
    document = []
    for name in names:
        entry = context.oncall.schedules[name]
        begin = _moment(start, entry.zone, "--from")
        finish = _moment(end, entry.zone, "--to") if end else begin + timedelta(days=14)
        if finish <= begin:
            raise click.BadParameter("must be after --from", param_hint="--to")
        if finish - begin > MAX_LISTED:
            raise click.BadParameter(
                "must be at most 366 days after --from: list a year at a time", param_hint="--to"
            )
        shifts = entry.shifts(begin, finish, context.overrides(name, begin, finish))
        document.append(
            {
                "schedule": name,
                "timezone": entry.timezone,
                "shifts": [
                    {"start": _utc(s.start), "end": _utc(s.end), "user": s.user} for s in shifts
                ],
            }
        )
        if output != "table":
            continue
        click.echo(f"{name} ({entry.timezone})")
        for shift in shifts:
            click.echo(
                f"  {_local(shift.start, entry.zone)}  ->  {_local(shift.end, entry.zone)}  "
                f"{shift.user or '(nobody)'}"
            )
    if output != "table":
        print_document(document, output)


@oncall.command("override")
@click.argument("schedule", required=False)
@click.option("--user", metavar="USER", help="Slack user id (U0123ABCD) or email.")
@click.option("--from", "start", metavar="TIME", help="Start (default now).")
@click.option("--to", "end", metavar="TIME", help="End (required).")
@click.option("--remove", type=int, metavar="ID", help="Remove the override with this id.")
@click.option("--list", "listing", is_flag=True, help="List overrides, with their ids.")
@_oncall_option
@config_option
@state_option
@output_option("table", "json", "yaml")
def override(
    schedule: str | None,
    user: str | None,
    start: str | None,
    end: str | None,
    remove: int | None,
    listing: bool,
    oncall_path: str | None,
    config_path: str | None,
    state: str | None,
    output: str,
) -> None:
    """Put USER on call for SCHEDULE from --from to --to (kept in the store, for every replica).

    --list shows the overrides not yet over, with the ids --remove takes ('ops oncall
    overrides' too).

    \b
    Examples:
      ops oncall override search-primary --user U0SEARCH02 \\
        --from 2026-03-28T09:00 --to 2026-03-30T09:00
      ops oncall override --list
      ops oncall override --remove 3
    """
    from ops_toolkit.escalate.schedule import is_participant
    from ops_toolkit.urls import redact_url

    context = Context(config_path, oncall_path, state)
    if listing:
        _print_overrides(context, schedule, output)
        return
    if remove is not None:
        store = context.store()
        removed = store.remove(remove, time.time()) if store is not None else None
        if removed is None:
            raise ConfigError(f"{redact_url(context.state)}: no override with id {remove}")
        if output != "table":
            print_document({"removed": remove, "schedule": removed}, output)
            return
        click.echo(f"removed override {remove} of {removed}")
        return
    if schedule is None or user is None or end is None:
        raise click.UsageError("give SCHEDULE, --user and --to (or --remove ID)")
    entry = context.oncall.schedule(schedule)
    if not is_participant(user):
        raise click.BadParameter(
            f"expected a Slack user id (U0123ABCD) or an email address, got {user!r}",
            param_hint="--user",
        )
    begin = _moment(start, entry.zone, "--from")
    finish = _moment(end, entry.zone, "--to")
    if finish <= begin:
        raise click.BadParameter("must be after --from", param_hint="--to")
    store = context.store(create=True)
    try:
        override_id = store.add(
            entry.name, user, begin, finish, time.time(), f"cli:{getpass.getuser()}"
        )
    finally:
        store.close()
    if output != "table":
        print_document(
            {
                "id": override_id,
                "schedule": entry.name,
                "user": user,
                "start": _utc(begin),
                "end": _utc(finish),
            },
            output,
        )
        return
    click.echo(
        f"override {override_id}: {user} on call for {entry.name} from "
        f"{_local(begin, entry.zone)} to {_local(finish, entry.zone)}"
    )


@oncall.command("overrides")
@click.argument("schedule", required=False)
@_oncall_option
@config_option
@state_option
@output_option("table", "json", "yaml")
def overrides(
    schedule: str | None,
    oncall_path: str | None,
    config_path: str | None,
    state: str | None,
    output: str,
) -> None:
    """Overrides not yet over (of SCHEDULE, or all), with the ids 'override --remove' takes.

    \b
    Examples:
      ops oncall overrides search-primary
    """
    _print_overrides(Context(config_path, oncall_path, state), schedule, output)


def _print_overrides(context: Context, schedule: str | None, output: str) -> None:
    name = context.oncall.schedule(schedule).name if schedule else None
    store = context.store()
    try:
        found = store.listing(name, time.time()) if store is not None else []
    finally:
        if store is not None:
            store.close()
    rows = [
        {
            "id": item.id,
            "schedule": where,
            "user": item.user,
            "start": _utc(item.start),
            "end": _utc(item.end),
            "created_by": by,
        }
        for where, item, by in found
    ]
    if output != "table":
        print_document(rows, output)
        return
    for (where, item, by), row in zip(found, rows, strict=True):
        zone = (
            context.oncall.schedules[where].zone
            if where in context.oncall.schedules
            else ZoneInfo("UTC")
        )
        click.echo(
            f"{row['id']:>4}  {where}: {item.user} from {_local(item.start, zone)} to "
            f"{_local(item.end, zone)} (by {by})"
        )
    click.echo(f"{len(rows)} override{'' if len(rows) == 1 else 's'}", err=True)
