"""Three things a newcomer met starting ``ops serve`` (a real process, the local
Slack-compatible API):

- ``serve.state: state/ops.db`` in a missing folder said "state/ops.db.lock: cannot open
  the store's lock: No such file or directory"; now the folder is made, its owner's only.
- ``SLACK_BOT_TOKEN=xoxb-change-me`` from deploy/systemd/ops-serve.env.example was taken.
- Without ``SLACK_SIGNING_SECRET`` (interactivity off) escalation messages still carried
  Acknowledge/Resolve buttons that could only fail; now none, and the start says how to
  turn them on.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.alerts.payloads import notification
from tests.conftest import ROOT
from tests.integration.test_serve import OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

ONCALL = """\
policies:
  - name: search
    tiers:
      - {users: [U0PRIMARY1], wait: 1s}
      - {users: [U0LEAD0001]}
"""
ROUTES = """\
default: {channel: "#alerts"}
routes:
  - match: {service: search}
    channel: "#search-oncall"
    escalation: search
"""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def test_a_store_in_a_missing_folder_gets_the_folder(tmp_path: Path, slack: SlackServer) -> None:
    server = OpsServer(tmp_path, slack)
    folder = tmp_path / "state" / "ops"
    text = server.config.read_text(encoding="utf-8")
    server.config.write_text(
        text.replace(f"state: {tmp_path / 'state.db'}", f"state: {folder / 'ops.db'}"),
        encoding="utf-8",
    )
    server.start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(slack.state.posts("search-oncall")) == 1)
    finally:
        server.stop()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "ops.db").is_file()
    assert f"created the store's folder {folder} (mode 0700)" in server.log.read_text()


def test_a_folder_in_the_way_of_the_store_is_one_line(tmp_path: Path, slack: SlackServer) -> None:
    server = OpsServer(tmp_path, slack)
    (tmp_path / "taken").write_text("", encoding="utf-8")
    text = server.config.read_text(encoding="utf-8")
    server.config.write_text(
        text.replace(f"state: {tmp_path / 'state.db'}", f"state: {tmp_path / 'taken' / 'o.db'}"),
        encoding="utf-8",
    )
    result = run_serve(server)
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: {tmp_path / 'taken' / 'o.db'}: {tmp_path / 'taken'} is a file, not a folder\n",
    )


def run_serve(server: OpsServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "ops_toolkit", "serve", "--config", str(server.config)),
            *("--listen", f"127.0.0.1:{server.port}"),
        ],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PLACEHOLDER = (
    "Error: SLACK_BOT_TOKEN still holds the placeholder 'change-me' from deploy/'s examples: "
    "set the real value\n"
)


def test_the_example_s_placeholder_bot_token_is_refused(tmp_path: Path, slack: SlackServer) -> None:
    server = OpsServer(tmp_path, slack)
    server.env["SLACK_BOT_TOKEN"] = "xoxb-change-me"
    result = run_serve(server)
    assert (result.returncode, result.stderr) == (1, PLACEHOLDER)
    posted = CliRunner().invoke(
        main,
        ["slo", "report", "--config", str(server.config), "--post", "#alerts", "--at", "0"],
        env={"SLACK_BOT_TOKEN": "xoxb-change-me", "OPS_PROMETHEUS_URL": "http://127.0.0.1:9"},
    )
    assert (posted.exit_code, posted.output) == (1, PLACEHOLDER)


def escalating(tmp_path: Path, slack: SlackServer) -> OpsServer:
    return OpsServer.escalating(tmp_path, slack, ONCALL, ROUTES)


def action_ids(message: dict[str, Any]) -> list[str]:
    blocks = message["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [
        element.get("action_id", "")
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" not in element  # links (runbook, graph) need no interactivity
    ]


@pytest.mark.parametrize("secret", [None, "test-signing-secret"], ids=["off", "on"])
def test_escalation_buttons_only_with_interactivity(
    tmp_path: Path, slack: SlackServer, secret: str | None
) -> None:
    server = escalating(tmp_path, slack)
    server.env.pop("SLACK_SIGNING_SECRET", None)
    if secret:
        server.env["SLACK_SIGNING_SECRET"] = secret
    server.start()
    try:
        assert server.post(notification())[0] == 200
        # the opening post, tier 1's page and tier 2's a second later
        eventually(lambda: len(slack.state.posts("search-oncall")) >= 3)
    finally:
        server.stop()
    messages = slack.state.posts("search-oncall")
    buttons = [action_ids(m) for m in messages[:3]]
    if secret:
        assert all("ack" in ids and "resolve" in ids for ids in buttons), buttons
    else:
        assert buttons == [[], [], []]
    said = (
        "SLACK_SIGNING_SECRET is not set: escalation messages carry no buttons and /ops "
        "commands are off (ops escalation ack|resolve still work); set it to the Slack app's "
        "Signing Secret to turn them on"
    )
    assert server.log.read_text().count(said) == (0 if secret else 1)
