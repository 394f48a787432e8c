"""The README's on-call example and the Slack app manifest stay true to the code."""

from __future__ import annotations

import re

import yaml

from ops_toolkit.escalate.oncall import parse_oncall
from tests.conftest import ROOT


def test_the_readme_oncall_example_parses() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## On call:", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    text = example.group(1).replace("schedule: search-secondary", "schedule: search-primary")
    text = text.replace("schedule: incident-commander", "schedule: search-primary")
    config = parse_oncall(text, "README.md")
    assert list(config.policies["search"].offsets()[:3]) == [0.0, 600.0, 1200.0]
    assert config.webhooks["pagerduty"].routing_key_env == "PAGERDUTY_ROUTING_KEY"


def test_the_manifest_points_at_the_servers_slack_endpoints() -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/interactions")
    (command,) = manifest["features"]["slash_commands"]
    assert (command["command"], command["url"].rsplit("/", 2)[-2:]) == (
        "/ops",
        ["slack", "commands"],
    )
    assert {"chat:write", "commands", "users:read.email"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
