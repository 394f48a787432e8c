"""Escalation end to end: a real ``ops serve``, the Slack-compatible API, a real Alertmanager.

The policy is the worked example's shape with seconds instead of minutes: tier 1 the
primary on-call (a schedule), tier 2 the secondary, tier 3 the incident commander. Each
schedule has one participant, so who is paged does not depend on the hour the tests run.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.servers import AlertmanagerServer
from ops_toolkit.escalate.interact import sign
from ops_toolkit.serve.escalations import ref_of
from tests.alerts.payloads import alert, notification
from tests.conftest import ROOT
from tests.integration.test_serve import OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

SECRET = "test-signing-secret"
GROUP = '{}:{alertname="SearchAvailabilityBudgetBurn"}'
REF = ref_of(GROUP, "#search-oncall")
ONCALL = """
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers: [{rotation: daily, start: 2026-01-01, participants: [U0PRIMARY1]}]
  - name: secondary
    timezone: America/New_York
    layers: [{rotation: weekly, start: 2026-01-05, participants: [U0SECOND01]}]
policies:
  - name: search
    tiers:
      - {schedule: primary, wait: 6s}
      - {schedule: secondary, wait: 6s}
      - {users: [U0LEAD0001]}
"""
ROUTES = """
default: {channel: "#alerts"}
routes:
  - match: {service: search}
    channel: "#search-oncall"
    escalation: search
"""


class EscalatingServer(OpsServer):
    def __init__(self, tmp_path: Path, slack: SlackServer, alertmanager: str | None = None):
        super().__init__(tmp_path, slack)
        (tmp_path / "oncall.yaml").write_text(ONCALL)
        (tmp_path / "routes.yaml").write_text(ROUTES)
        self.config.write_text(
            "serve:\n"
            f"  state: {tmp_path / 'state.db'}\n"
            "  pace_seconds: 0.05\n"
            f"routes: {tmp_path / 'routes.yaml'}\n"
            f"oncall: {tmp_path / 'oncall.yaml'}\n"
            f"runbooks: {ROOT / 'runbooks'}\n"
            "slack: {allow: {resolve: [U0LEAD0001]}}\n"
            + (f"alertmanager: {alertmanager}\n" if alertmanager else "")
        )
        self.env["SLACK_SIGNING_SECRET"] = SECRET
        self.slack = slack

    def signed(
        self, path: str, body: bytes, *, secret: str = SECRET, age: float = 0.0
    ) -> tuple[int, Any]:
        headers = sign(secret, body, int(time.time() - age))
        request = urllib.request.Request(
            f"{self.url}{path}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def cli(self, *args: str) -> str:
        import subprocess
        import sys

        result = subprocess.run(
            [sys.executable, "-m", "ops_toolkit", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
        )
        return result.stdout

    def press(self, action: str, user: str, **kwargs: Any) -> tuple[int, Any]:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": self.slack.state.channel("search-oncall")},
            "container": {"type": "message"},
            "response_url": self.slack.response_url,
            "actions": [{"action_id": action, "value": REF, "action_ts": str(time.time())}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.signed("/slack/interactions", body, **kwargs)

    def command(self, text: str, user: str = "U0PRIMARY1") -> tuple[int, Any]:
        body = urllib.parse.urlencode(
            {
                "command": "/ops",
                "text": text,
                "user_id": user,
                "user_name": "dana",
                "channel_id": self.slack.state.channel("search-oncall"),
                "response_url": self.slack.response_url,
            }
        ).encode()
        return self.signed("/slack/commands", body)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def thread(slack: SlackServer) -> list[str]:
    openings = slack.state.top_level("search-oncall")
    if not openings:
        return []
    return [m["text"] for m in slack.state.replies("search-oncall", openings[0]["ts"])]


def pages(slack: SlackServer) -> list[str]:
    return [t for t in thread(slack) if ": tier " in t]


def test_three_tiers_then_a_signed_acknowledgement_stops_them(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = EscalatingServer(tmp_path, slack).start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        (opening,) = slack.state.top_level("search-oncall")
        buttons = [b for b in opening["blocks"] if b.get("block_id") == "ops_escalation"]
        assert [e["action_id"] for e in buttons[0]["elements"]] == [
            "ack",
            "escalate",
            "resolve",
            "silence_1h",
            "silence_4h",
            "silence_24h",
            "diagnose",
        ]
        assert {e["value"] for e in buttons[0]["elements"]} == {REF}
        assert pages(slack)[0].startswith(
            ":rotating_light: <@U0PRIMARY1> *SearchAvailabilityBudgetBurn*: tier 1 of 3"
        )
        eventually(lambda: len(pages(slack)) >= 2, timeout=30)
        assert "<@U0SECOND01>" in pages(slack)[1] and "tier 2 of 3" in pages(slack)[1]

        assert server.press("ack", "U0SECOND01") == (200, None)
        eventually(lambda: slack.state.top_level("search-oncall")[0]["updates"] == 1)
        status = [
            b
            for b in slack.state.top_level("search-oncall")[0]["blocks"]
            if b.get("block_id") == "ops_status"
        ]
        assert status[0]["elements"][0]["text"].startswith("Acknowledged by <@U0SECOND01> at ")
        eventually(
            lambda: any(t.startswith("Acknowledged by <@U0SECOND01>") for t in thread(slack))
        )
        # A double click: a second signed press changes nothing and tells the presser so.
        assert server.press("ack", "U0SECOND01") == (200, None)
        eventually(lambda: len(slack.state.responses) == 1)
        assert slack.state.responses[0] == {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": "Nothing to do: already acknowledged by <@U0SECOND01>.",
        }
        time.sleep(7)  # past tier 3's time: acknowledged, so nobody is paged
        assert len(pages(slack)) == 2
        assert slack.state.top_level("search-oncall")[0]["updates"] == 1
        # The Acknowledge button is gone from the opening message (it once stayed, as if
        # nobody had acknowledged); Resolve and the others stay.
        acknowledged = slack.state.top_level("search-oncall")[0]["blocks"]
        buttons = [b for b in acknowledged if b.get("block_id") == "ops_escalation"]
        assert [e["action_id"] for e in buttons[0]["elements"]] == [
            "escalate",
            "resolve",
            "silence_1h",
            "silence_4h",
            "silence_24h",
            "diagnose",
        ]
        # Resolved later: the status line says so, and who acknowledged stays in its place.
        assert server.press("resolve", "U0LEAD0001") == (200, None)
        eventually(lambda: slack.state.top_level("search-oncall")[0]["updates"] == 2)
        resolved = slack.state.top_level("search-oncall")[0]["blocks"]
        lines = {
            b.get("block_id"): b["elements"][0]["text"] for b in resolved if b["type"] == "context"
        }
        assert lines["ops_status"].startswith("Resolved by <@U0LEAD0001> at ")
        assert lines["ops_acknowledged"] == status[0]["elements"][0]["text"]
        assert "ack" not in [
            e["action_id"]
            for b in resolved
            if b.get("block_id") == "ops_escalation"
            for e in b["elements"]
        ]
    finally:
        server.stop()


def test_bad_stale_and_replayed_requests_are_401_and_do_nothing(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = EscalatingServer(tmp_path, slack).start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        assert server.press("ack", "U0PRIMARY1", secret="not-the-secret") == (
            401,
            {
                "ok": False,
                "error": "POST /slack/interactions: signature does not match (check SLACK_SIGNING_SECRET)",
            },
        )
        status, body = server.press("ack", "U0PRIMARY1", age=400)
        assert status == 401
        assert body["error"].startswith("POST /slack/interactions: stale request: signed 40")
        payload = urllib.parse.urlencode(
            {
                "payload": json.dumps(
                    {
                        "type": "block_actions",
                        "user": {"id": "U0PRIMARY1"},
                        "actions": [{"action_id": "resolve", "value": REF}],
                    }
                )
            }
        ).encode()
        headers = sign(SECRET, payload, int(time.time()))
        first = urllib.request.Request(
            f"{server.url}/slack/interactions", data=payload, headers=headers, method="POST"
        )
        with urllib.request.urlopen(first, timeout=10) as response:
            assert response.status == 200  # refused by the allow-list (resolve: U0LEAD0001)
        with pytest.raises(urllib.error.HTTPError) as replayed:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{server.url}/slack/interactions", data=payload, headers=headers, method="POST"
                ),
                timeout=10,
            )
        assert replayed.value.code == 401
        assert json.load(replayed.value)["error"] == (
            "POST /slack/interactions: replayed request (this signature was already used)"
        )
        eventually(lambda: len(pages(slack)) >= 2, timeout=30)  # nothing stopped the escalation
        listed = server.cli("escalation", "list", "--json")
        (row,) = json.loads(listed)
        assert (row["status"], row["last_action"]) == ("active", None)
    finally:
        server.stop()


def test_sigkill_between_tiers_pages_each_tier_exactly_once(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = EscalatingServer(tmp_path, slack).start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        server.kill()
        time.sleep(7)  # tier 2 falls due while nothing runs
        server.start()
        eventually(lambda: len(pages(slack)) == 3, timeout=30)
        time.sleep(1)
        tiers = [p.split(": tier ")[1][:6] for p in pages(slack)]
        assert tiers == ["1 of 3", "2 of 3", "3 of 3"]
    finally:
        server.stop()


def test_silence_and_unsilence_through_a_real_alertmanager(
    tmp_path: Path, slack: SlackServer
) -> None:
    manager = AlertmanagerServer(str(tmp_path / "am"), "http://127.0.0.1:9/none", None).start()
    server = EscalatingServer(tmp_path, slack, manager.url).start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        assert server.press("silence_4h", "U0PRIMARY1") == (200, None)

        def silences() -> list[dict[str, Any]]:
            with urllib.request.urlopen(f"{manager.url}/api/v2/silences", timeout=5) as r:
                found: list[dict[str, Any]] = json.load(r)
                return found

        eventually(lambda: len(silences()) == 1, timeout=30)
        (silence,) = silences()
        assert silence["status"]["state"] == "active"
        assert [(m["name"], m["value"]) for m in silence["matchers"]] == [
            ("alertname", "SearchAvailabilityBudgetBurn")
        ]
        assert silence["createdBy"] == "U0PRIMARY1"
        assert silence["endsAt"] > silence["startsAt"]

        def buttons() -> list[str]:
            opening = slack.state.top_level("search-oncall")[0]
            block = next(b for b in opening["blocks"] if b.get("block_id") == "ops_escalation")
            return [e["action_id"] for e in block["elements"]]

        eventually(lambda: "unsilence" in buttons(), timeout=30)
        assert server.press("unsilence", "U0PRIMARY1") == (200, None)
        eventually(lambda: silences()[0]["status"]["state"] == "expired", timeout=30)
        eventually(lambda: "silence_1h" in buttons(), timeout=30)
    finally:
        server.stop()
        manager.stop()


def test_slash_commands(tmp_path: Path, slack: SlackServer) -> None:
    server = EscalatingServer(tmp_path, slack).start()
    try:
        assert server.command("oncall") == (
            200,
            {
                "response_type": "ephemeral",
                "replace_original": False,
                "text": "*primary*: <@U0PRIMARY1>\n*secondary*: <@U0SECOND01>",
            },
        )
        assert server.command("reboot")[1]["text"] == (
            "unknown sub-command 'reboot'. Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME"
        )
        # What the person typed is quoted back as inert text, never as a mention or markup.
        assert server.command("*<!channel>*")[1]["text"] == (
            "unknown sub-command '∗&lt;!channel&gt;∗'. "
            "Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME"
        )
        assert server.command("oncall <!here>")[1]["text"] == (
            "No schedule named '&lt;!here&gt;'. Schedules: primary, secondary"
        )
        assert server.post(notification(alert(fingerprint="x")))[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        status, body = server.command(f"ack {REF}")
        assert status == 200 and body["text"].startswith("Acknowledged by <@U0PRIMARY1> at ")
        status, body = server.command("runbook search-erors")
        assert body["text"] == "No runbook named 'search-erors' (did you mean 'search-errors'?)."
    finally:
        server.stop()


def test_run_diagnose_from_a_button_replies_with_the_diagnose_steps(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = EscalatingServer(tmp_path, slack).start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(pages(slack)) >= 1, timeout=30)
        assert server.press("diagnose", "U0PRIMARY1") == (200, None)
        assert server.press("diagnose", "U0PRIMARY1") == (200, None)  # a double click
        eventually(lambda: any("Diagnose steps of" in t for t in thread(slack)), timeout=60)
        reply = next(t for t in thread(slack) if "Diagnose steps of" in t)
        assert reply.startswith(":mag: Diagnose steps of `search-errors` ran unattended")
        eventually(lambda: len(slack.state.responses) == 1)
        assert slack.state.responses[0]["text"] == "Nothing to do: diagnose already started."
        time.sleep(1)
        assert len([t for t in thread(slack) if "Diagnose steps of" in t]) == 1
    finally:
        server.stop()
