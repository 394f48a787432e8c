"""Routing alerts to chat channels by their labels (``alerts/routes.yaml``).

    default: {channel: "#alerts"}
    routes:
      - match: {service: search}             # exact label values
        match_re: {severity: "page|critical"} # anchored regular expressions
        channel: "#search-oncall"
        mention: S0123ABCD                    # a user group id, @here or @channel
        escalation: search                    # a policy in alerts/oncall.yaml: tiers until acked
        continue: true                        # also try the routes below

The first matching route wins unless it says ``continue``; no match goes to the default.
Without a file everything goes to ``OPS_DEFAULT_CHANNEL`` (``#alerts``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from ops_toolkit.errors import ConfigError
from ops_toolkit.notify.model import CHANNEL
from ops_toolkit.suggest import did_you_mean
from ops_toolkit.yamlpath import Node, parse_documents, read_text


@dataclass(frozen=True)
class Route:
    channel: str
    mention: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    keep_going: bool = False
    escalation: str | None = None  # an escalation policy's name (alerts/oncall.yaml)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k, "") == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) for k, p in self.match_re.items()
        )

    def mention_text(self) -> str:
        """Slack's syntax for the mention: a user group, @here or @channel."""
        if not self.mention:
            return ""
        if self.mention in ("@here", "@channel"):
            return f"<!{self.mention[1:]}>"
        if self.mention.startswith("<"):
            return self.mention
        return f"<!subteam^{self.mention}>"


@dataclass(frozen=True)
class Routing:
    default: Route
    routes: tuple[Route, ...] = ()
    source: str = "alerts/routes.yaml"

    def check_policies(self, policies: Collection[str]) -> None:
        """Every ``escalation:`` names a policy of the on-call file, or a ConfigError here."""
        named = [("default", self.default)] + [
            (f"routes[{i}]", r) for i, r in enumerate(self.routes)
        ]
        for place, route in named:
            if route.escalation is not None and route.escalation not in policies:
                hint = did_you_mean(route.escalation, policies) or (
                    f" (policies: {', '.join(sorted(policies))})"
                    if policies
                    else " (alerts/oncall.yaml has no policies)"
                )
                raise ConfigError(
                    f"{self.source}: {place}.escalation: no escalation policy named "
                    f"{route.escalation!r}{hint}"
                )

    def targets(self, labels: Mapping[str, str]) -> list[Route]:
        chosen: list[Route] = []
        for route in self.routes:
            if route.matches(labels):
                chosen.append(route)
                if not route.keep_going:
                    break
        return chosen or [self.default]


def default_channel() -> str:
    return os.environ.get("OPS_DEFAULT_CHANNEL", "#alerts")


def _route(node: Node, *, is_default: bool = False) -> Route:
    allowed = (
        ["channel", "mention", "escalation"]
        if is_default
        else ["channel", "mention", "match", "match_re", "continue", "escalation"]
    )
    node.mapping(allowed)
    channel = node.text("channel")
    assert channel is not None
    if not CHANNEL.match(channel):
        raise node.child("channel").error(
            f"expected a channel like #search-oncall or an id like C0123ABCD, got {channel!r}"
        )
    mention = node.text("mention", required=False)
    if mention is not None and not re.fullmatch(
        r"@here|@channel|[SU][A-Z0-9]{6,}|<[!@][^<>]+>", mention
    ):
        raise node.child("mention").error(
            f"expected a user group id (S0123ABCD), @here or @channel, got {mention!r}"
        )
    match: dict[str, str] = {}
    patterns: dict[str, re.Pattern[str]] = {}
    for key, target in (("match", match), ("match_re", None)):
        child = node.child(key)
        if child.value is None:
            continue
        child.mapping(child.value.keys() if isinstance(child.value, dict) else ())
        for label in child.value:
            value = child.text(str(label))
            assert value is not None
            if target is not None:
                target[str(label)] = value
                continue
            try:
                patterns[str(label)] = re.compile(value)
            except re.error as exc:
                raise child.child(str(label)).error(
                    f"not a valid regular expression: {exc}"
                ) from None
    keep_going = node.child("continue").value
    if keep_going is not None and not isinstance(keep_going, bool):
        raise node.child("continue").error("expected true or false")
    if not is_default and not match and not patterns:
        raise node.error("give 'match' or 'match_re'; a route without them belongs in 'default'")
    escalation = node.text("escalation", required=False)
    return Route(channel, mention, match, patterns, bool(keep_going), escalation)


def parse_routes(text: str, source: str) -> Routing:
    documents = parse_documents(text, source)
    if not documents:
        return Routing(Route(default_channel()))
    root = Node(documents[0], "", source).mapping(("default", "routes"))
    default = (
        _route(root.child("default"), is_default=True)
        if root.has("default")
        else Route(default_channel())
    )
    routes = tuple(_route(n) for n in root.child("routes").items()) if root.has("routes") else ()
    return Routing(default, routes, source)


def load_routes(path: str | None) -> Routing:
    """Routes from ``path``; without a file, one default channel for everything."""
    if path is None:
        return Routing(Route(default_channel()))
    return parse_routes(read_text(path), path)
