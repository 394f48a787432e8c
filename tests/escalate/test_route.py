"""Routing by labels, and routes.yaml errors with their YAML path."""

from __future__ import annotations

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.escalate.route import load_routes, parse_routes
from tests.conftest import ROOT

ROUTES = """
default: {channel: "#alerts"}
routes:
  - match: {service: search, severity: page}
    channel: "#search-oncall"
    mention: "@here"
    continue: true
  - match_re: {service: "search|ingest"}
    channel: "#search-alerts"
  - match: {service: search}
    channel: "#never"
"""


@pytest.mark.parametrize(
    ("labels", "channels"),
    [
        ({"service": "search", "severity": "page"}, ["#search-oncall", "#search-alerts"]),
        ({"service": "ingest"}, ["#search-alerts"]),
        ({"service": "searchx"}, ["#alerts"]),
        ({}, ["#alerts"]),
    ],
    ids=[
        "continue goes on",
        "regex is anchored and matches",
        "regex does not match a prefix",
        "nothing matches: default",
    ],
)
def test_routing(labels: dict[str, str], channels: list[str]) -> None:
    routing = parse_routes(ROUTES, "routes.yaml")
    assert [r.channel for r in routing.targets(labels)] == channels


def test_mentions_use_slack_syntax() -> None:
    routing = parse_routes(ROUTES, "routes.yaml")
    assert routing.routes[0].mention_text() == "<!here>"


def test_without_a_file_everything_goes_to_the_default_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPS_DEFAULT_CHANNEL", "#ops")
    assert [r.channel for r in load_routes(None).targets({"a": "b"})] == ["#ops"]


def test_the_shipped_routes_are_valid() -> None:
    routing = load_routes(str(ROOT / "alerts" / "routes.yaml"))
    assert routing.targets({"service": "search", "severity": "page"})[0].channel == "#search-oncall"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "routes:\n  - match_re: {a: '('}\n    channel: '#x'\n",
            "r.yaml: routes[0].match_re.a: not a valid regular expression: missing ), unterminated "
            "subpattern at position 0",
        ),
        (
            "routes:\n  - match: {a: b}\n    channel: alerts\n",
            "r.yaml: routes[0].channel: expected a channel like #search-oncall or an id like "
            "C0123ABCD, got 'alerts'",
        ),
        (
            "routes:\n  - channel: '#x'\n",
            "r.yaml: routes[0]: give 'match' or 'match_re'; a route without them belongs in 'default'",
        ),
        (
            "routes:\n  - match: {a: b}\n    chanel: '#x'\n",
            "r.yaml: routes[0].chanel: unknown key (did you mean 'channel'?); valid keys: channel, "
            "mention, match, match_re, continue, escalation",
        ),
        (
            "default: {channel: '#a', mention: everyone}\n",
            "r.yaml: default.mention: expected a user group id (S0123ABCD), @here or @channel, got "
            "'everyone'",
        ),
    ],
)
def test_bad_routes_name_the_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_routes(text, "r.yaml")
    assert str(raised.value) == message


def test_a_route_names_an_escalation_policy_that_must_exist() -> None:
    routing = parse_routes(
        "routes:\n  - match: {service: search}\n    channel: '#s'\n    escalation: serch\n",
        "r.yaml",
    )
    assert routing.routes[0].escalation == "serch"
    with pytest.raises(ConfigError) as caught:
        routing.check_policies(["search"])
    assert str(caught.value) == (
        "r.yaml: routes[0].escalation: no escalation policy named 'serch' (did you mean 'search'?)"
    )
    routing.check_policies(["serch"])
