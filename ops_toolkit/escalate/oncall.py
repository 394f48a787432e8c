"""``alerts/oncall.yaml``: on-call schedules, escalation policies and webhook targets.

    schedules:
      - name: search-primary
        timezone: Europe/Berlin
        channel: "#search-oncall"        # handoff notices (optional)
        layers:                          # a later layer wins where it has someone
          - name: weekly
            rotation: weekly             # daily | weekly | every 3 days
            handoff: "09:00"             # local time in the schedule's zone
            start: 2026-01-05            # the first participant's first shift
            participants: [U0SEARCH01, dana@example.com]
          - name: weekend-days
            rotation: daily
            handoff: "08:00"
            start: 2026-01-03
            days: [sat, sun]             # only these weekdays ...
            hours: "08:00-20:00"         # ... and these local hours (may wrap midnight)
            participants: [U0WEEKEND1]
        overrides:                       # planned ones; ad-hoc ones live in the store
          - {user: U0SEARCH02, from: "2026-03-28T09:00", to: "2026-03-30T09:00"}
    policies:
      - name: search
        tiers:
          - {schedule: search-primary, wait: 10m}
          - {schedule: search-secondary, wait: 10m}
          - {users: [U0INCIDENT], channel: "#incidents"}
        repeat: {every: 15m, limit: 3}   # the last tier again, unacknowledged
    webhooks:
      pagerduty: {url: "https://events.pagerduty.com/v2/enqueue", format: pagerduty,
                  routing_key_env: PAGERDUTY_ROUTING_KEY}

Every error names the file and the YAML path: ``alerts/oncall.yaml: policies[0].tiers[1].
schedule: no schedule named 'search-secundary' (did you mean 'search-secondary'?)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ops_toolkit.errors import ConfigError
from ops_toolkit.escalate.policy import EscalationPolicy, Tier
from ops_toolkit.escalate.schedule import (
    WEEKDAYS,
    Layer,
    Override,
    Restriction,
    Schedule,
    is_participant,
)
from ops_toolkit.notify.model import CHANNEL
from ops_toolkit.suggest import did_you_mean
from ops_toolkit.yamlpath import (
    Node,
    check_timezone,
    parse_documents,
    positive_duration,
    read_text,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
USER_GROUP = re.compile(r"^S[A-Z0-9]{6,}$")
ROTATIONS = {"daily": 1, "weekly": 7}
EVERY = re.compile(r"^every ([0-9]{1,3}) days?$")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
WEBHOOK_FORMATS = ("pagerduty", "json")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class WebhookTarget:
    """A generic webhook: PagerDuty Events API v2 shape or plain JSON."""

    name: str
    url: str
    format: str = "json"
    routing_key_env: str | None = None  # the environment variable holding the routing key


@dataclass(frozen=True)
class OncallConfig:
    source: str | None = None
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    webhooks: dict[str, WebhookTarget] = field(default_factory=dict)

    def schedule(self, name: str) -> Schedule:
        return self.schedules[_known(name, self.schedules, "schedule", self.source)]

    def policy(self, name: str) -> EscalationPolicy:
        return self.policies[_known(name, self.policies, "escalation policy", self.source)]

    def email_tiers(self) -> list[str]:
        """The YAML paths of the tiers that send email (``policies[0].tiers[2].email``):
        policies keep the file's order, so the index is the file's."""
        return [
            f"policies[{p}].tiers[{t}].email"
            for p, policy in enumerate(self.policies.values())
            for t, tier in enumerate(policy.tiers)
            if tier.email
        ]

    def credential_variables(self) -> frozenset[str]:
        """The environment variables this file names as holding a credential (``*_env``):
        ops's own, withheld from steps and masked, whatever they are called."""
        return frozenset(w.routing_key_env for w in self.webhooks.values() if w.routing_key_env)


def _known(name: str, known: Mapping[str, object], what: str, source: str | None) -> str:
    if name in known:
        return name
    hint = did_you_mean(name, list(known)) or (
        f" ({what} names: {', '.join(sorted(known))})" if known else ""
    )
    raise ConfigError(f"{source or 'alerts/oncall.yaml'}: no {what} named {name!r}{hint}")


def _name(node: Node, key: str = "name") -> str:
    value = node.text(key)
    assert value is not None
    if not NAME.match(value):
        raise node.child(key).error(
            f"expected a lowercase name like search-primary (letters, digits, - and _), got {value!r}"
        )
    return value


def _clock(node: Node, text: str) -> time:
    match = CLOCK.match(text)
    if not match:
        raise node.error(f'expected a 24-hour time like "09:00", got {text!r}')
    return time(int(match.group(1)), int(match.group(2)))


def _date(node: Node) -> date:
    value = node.value
    if isinstance(value, datetime):
        raise node.error(f"expected a date like 2026-01-05, got {str(value)!r}")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise node.error(f"expected a date like 2026-01-05, got {str(value)!r}") from None


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time; without an offset it is local time in ``zone``. ValueError if not."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected a time like 2026-03-28T09:00 or 2026-03-28T09:00+01:00, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _moment(node: Node, key: str, zone: ZoneInfo) -> datetime:
    child = node.child(key)
    value = child.value
    if value is None:
        raise child.error("is required")
    try:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        return parse_moment(str(value), zone)
    except ValueError as exc:
        raise child.error(str(exc)) from None


def _participants(node: Node) -> tuple[str, ...]:
    items = node.items()
    if not items:
        raise node.error("must not be empty")
    people = []
    for item in items:
        text = str(item.value).strip() if isinstance(item.value, str) else None
        if text is None or not is_participant(text):
            raise item.error(
                f"expected a Slack user id (U0123ABCD) or an email address, got {show(item.value)}"
            )
        people.append(text)
    return tuple(people)


def show(value: object) -> str:
    return repr(value) if isinstance(value, str) else repr(str(value))


def _restriction(node: Node) -> Restriction:
    days_node, hours_node = node.child("days"), node.child("hours")
    days = frozenset(range(7))
    if days_node.value is not None:
        chosen = set()
        for item in days_node.items():
            name = str(item.value).strip().lower()[:3]
            if name not in WEEKDAYS:
                raise item.error(
                    f"expected a weekday ({', '.join(WEEKDAYS)}), got {show(item.value)}"
                )
            chosen.add(WEEKDAYS.index(name))
        if not chosen:
            raise days_node.error("must not be empty")
        days = frozenset(chosen)
    start = end = time(0)
    hours = node.text("hours", required=False)
    if hours is not None:
        parts = hours.split("-")
        if len(parts) != 2:
            raise hours_node.error(f'expected a range like "08:00-20:00", got {hours!r}')
        start, end = _clock(hours_node, parts[0].strip()), _clock(hours_node, parts[1].strip())
        if start == end:
            raise hours_node.error(f"the range {hours!r} is empty; leave 'hours' out for all day")
    return Restriction(days, start, end)


def _layer(node: Node, index: int, zone: ZoneInfo) -> Layer:
    node.mapping(("name", "rotation", "handoff", "start", "participants", "days", "hours", "until"))
    name = _name(node) if node.has("name") else f"layer-{index + 1}"
    rotation = node.text("rotation")
    assert rotation is not None
    every = ROTATIONS.get(rotation)
    match = EVERY.match(rotation)
    if match and int(match.group(1)) > 0:
        every = int(match.group(1))
    if every is None:
        raise node.child("rotation").error(
            f"expected daily, weekly or 'every N days', got {rotation!r}"
        )
    handoff_text = node.text("handoff", required=False) or "09:00"
    handoff = _clock(node.child("handoff"), handoff_text)
    if not node.has("start"):
        raise node.child("start").error("is required (the date the first participant starts)")
    until = _moment(node, "until", zone) if node.has("until") else None
    return Layer(
        name=name,
        participants=_participants(node.child("participants")),
        start=_date(node.child("start")),
        handoff=handoff,
        every_days=every,
        restriction=_restriction(node),
        until=until,
    )


def _overrides(node: Node, zone: ZoneInfo) -> tuple[Override, ...]:
    if node.value is None:
        return ()
    overrides = []
    for order, item in enumerate(node.items()):
        item.mapping(("user", "from", "to"))
        user = item.text("user")
        assert user is not None
        if not is_participant(user):
            raise item.child("user").error(
                f"expected a Slack user id (U0123ABCD) or an email address, got {user!r}"
            )
        start, end = _moment(item, "from", zone), _moment(item, "to", zone)
        if end <= start:
            raise item.child("to").error("must be after 'from'")
        overrides.append(Override(user, start, end, created_at=float(order)))
    return tuple(overrides)


def _schedule(node: Node) -> Schedule:
    node.mapping(("name", "timezone", "channel", "layers", "overrides"))
    name = _name(node)
    timezone = node.text("timezone", required=False) or "UTC"
    check_timezone(node.child("timezone"), timezone)
    zone = ZoneInfo(timezone)
    channel = node.text("channel", required=False)
    if channel is not None and not CHANNEL.match(channel):
        raise node.child("channel").error(
            f"expected a channel like #search-oncall or an id like C0123ABCD, got {channel!r}"
        )
    layers_node = node.child("layers")
    if layers_node.value is None:
        raise layers_node.error("is required (at least one rotation)")
    layers = tuple(_layer(n, i, zone) for i, n in enumerate(layers_node.items()))
    if not layers:
        raise layers_node.error("must not be empty")
    return Schedule(name, timezone, layers, channel, _overrides(node.child("overrides"), zone))


def _seconds(node: Node, key: str) -> float | None:
    child = node.child(key)
    if child.value is None:
        return None
    return positive_duration(child)


def _tier(node: Node, schedules: dict[str, Schedule], webhooks: dict[str, WebhookTarget]) -> Tier:
    keys = ("wait", "channel", "user_group", "users", "schedule", "webhook", "email")
    node.mapping(keys)
    channel = node.text("channel", required=False)
    if channel is not None and not CHANNEL.match(channel):
        raise node.child("channel").error(
            f"expected a channel like #search-oncall or an id like C0123ABCD, got {channel!r}"
        )
    group = node.text("user_group", required=False)
    if group is not None and not USER_GROUP.match(group):
        raise node.child("user_group").error(
            f"expected a Slack user group id like S0123ABCD, got {group!r}"
        )
    users = _participants(node.child("users")) if node.has("users") else ()
    schedule = node.text("schedule", required=False)
    if schedule is not None and schedule not in schedules:
        hint = did_you_mean(schedule, list(schedules)) or (
            f" (schedules: {', '.join(sorted(schedules))})" if schedules else ""
        )
        raise node.child("schedule").error(f"no schedule named {schedule!r}{hint}")
    webhook = node.text("webhook", required=False)
    if webhook is not None and webhook not in webhooks:
        hint = did_you_mean(webhook, list(webhooks)) or (
            f" (webhooks: {', '.join(sorted(webhooks))})" if webhooks else " (none defined)"
        )
        raise node.child("webhook").error(f"no webhook named {webhook!r}{hint}")
    email = _participants(node.child("email")) if node.has("email") else ()
    for index, address in enumerate(email):
        if "@" not in address:
            raise (
                node.child("email")
                .child(index)
                .error(f"expected an email address, got {address!r}")
            )
    if not (channel or group or users or schedule or webhook or email):
        raise node.error(
            "give at least one of channel, user_group, users, schedule, webhook, email"
        )
    wait = _seconds(node, "wait")
    return Tier(wait or 0.0, channel, group, users, schedule, webhook, email)


def _policy(
    node: Node, schedules: dict[str, Schedule], webhooks: dict[str, WebhookTarget]
) -> EscalationPolicy:
    node.mapping(("name", "tiers", "repeat"))
    name = _name(node)
    tiers_node = node.child("tiers")
    if tiers_node.value is None:
        raise tiers_node.error("is required (at least one tier)")
    tiers = tuple(_tier(n, schedules, webhooks) for n in tiers_node.items())
    if not tiers:
        raise tiers_node.error("must not be empty")
    for index, tier in enumerate(tiers[:-1]):
        if tier.wait <= 0:
            raise (
                tiers_node.child(index)
                .child("wait")
                .error("is required before the next tier (e.g. 10m)")
            )
    every, limit = None, 0
    if node.has("repeat"):
        repeat = node.child("repeat").mapping(("every", "limit"))
        every = _seconds(repeat, "every")
        if not every:
            raise repeat.child("every").error("is required and must be positive (e.g. 15m)")
        value = repeat.child("limit").value
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise repeat.child("limit").error(
                f"expected a whole number from 1 to 100, got {value!r}"
            )
        limit = value
    return EscalationPolicy(name, tiers, every, limit)


def _webhook(name: str, node: Node) -> WebhookTarget:
    node.mapping(("url", "format", "routing_key_env"))
    url = node.text("url")
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise node.child("url").error(f"expected an http(s) URL, got {url!r}")
    format_ = node.text("format", required=False) or "json"
    if format_ not in WEBHOOK_FORMATS:
        raise node.child("format").error(
            f"expected one of {', '.join(WEBHOOK_FORMATS)}, got {format_!r}"
        )
    env = node.text("routing_key_env", required=False)
    if env is not None and not ENV_NAME.match(env):
        raise node.child("routing_key_env").error(
            f"expected an environment variable name like PAGERDUTY_ROUTING_KEY, got {env!r}"
        )
    if format_ == "pagerduty" and env is None:
        raise node.child("routing_key_env").error(
            "is required for format pagerduty (the variable holding the routing key)"
        )
    return WebhookTarget(name, url, format_, env)


def _unique(nodes: list[Node]) -> None:
    seen: set[str] = set()
    for node in nodes:
        name = node.child("name").value
        if isinstance(name, str) and name in seen:
            raise node.child("name").error(f"duplicate name {name!r}")
        if isinstance(name, str):
            seen.add(name)


def parse_oncall(text: str, source: str) -> OncallConfig:
    documents = parse_documents(text, source)
    if not documents:
        return OncallConfig(source)
    root = Node(documents[0], "", source).mapping(("schedules", "policies", "webhooks"))
    webhooks: dict[str, WebhookTarget] = {}
    if root.has("webhooks"):
        hooks = root.child("webhooks")
        hooks.mapping(hooks.value.keys() if isinstance(hooks.value, dict) else ())
        for key in hooks.value:
            child = hooks.child(str(key))
            if not NAME.match(str(key)):
                raise child.error(f"expected a lowercase name like pagerduty, got {str(key)!r}")
            webhooks[str(key)] = _webhook(str(key), child)
    schedule_nodes = root.child("schedules").items() if root.has("schedules") else []
    _unique(schedule_nodes)
    schedules = {s.name: s for s in (_schedule(n) for n in schedule_nodes)}
    policy_nodes = root.child("policies").items() if root.has("policies") else []
    _unique(policy_nodes)
    policies = {p.name: p for p in (_policy(n, schedules, webhooks) for n in policy_nodes)}
    return OncallConfig(source, schedules, policies, webhooks)


def load_oncall(path: str | None) -> OncallConfig:
    """``path`` (it must exist); without one, no schedules and no policies."""
    if path is None:
        return OncallConfig()
    return parse_oncall(read_text(path), path)


def smtp_problem(oncall: OncallConfig, environ: Mapping[str, str]) -> str | None:
    """Why the file's email tiers cannot send (``OPS_SMTP_HOST`` unset, a bad
    ``OPS_SMTP_PORT``), at the first such tier; None when they can, or there are none.

    Checked by ``ops check`` and when ``ops serve`` starts, as a missing Slack token is:
    before, every page to such a tier was dead-lettered, found only in ``ops outbox``."""
    places = oncall.email_tiers()
    if not places:
        return None
    from ops_toolkit.notify.email import SmtpSettings

    try:
        SmtpSettings.from_environment(environ)
    except ConfigError as error:
        more = f" (and {len(places) - 1} more email tier(s))" if len(places) > 1 else ""
        return f"{oncall.source or 'alerts/oncall.yaml'}: {places[0]}: {error}{more}"
    return None
