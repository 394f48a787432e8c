"""``ops serve`` diagnose runs as a real process: the unattended environment, masking, no silence.

An alert makes ops run a runbook's diagnose steps on the server, whose environment holds the
Slack bot token and the webhook token. The steps must not get them, and a step that digs
them out anyway (from its parent's /proc environ) must not get them posted to Slack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.payloads import alert, notification
from tests.conftest import ROOT
from tests.integration.test_serve import TOKEN, OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

FENCE = "```"
BOT_TOKEN = "xoxb-test"  # what OpsServer gives the server
LEAKY = f"""---
title: Leaky diagnose steps
owner: team-search
alerts: [SearchAvailabilityBudgetBurn]
params:
  COMPONENT: {{default: none, from_label: component}}
env: [GREETING]
---
# Leaky

## Diagnose

{FENCE}sh {{"name":"leak","tag":"diagnose"}}
echo "bot=${{SLACK_BOT_TOKEN:-unset}} hook=${{OPS_WEBHOOK_TOKEN:-unset}} aws=${{AWS_SECRET_ACCESS_KEY:-unset}} greeting=$GREETING component=$COMPONENT"
env | cut -d= -f1 | sort | tr '\\n' ' '; echo
tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '^(SLACK_BOT|OPS_WEBHOOK)_TOKEN=' | sort
printf %s "$(tr '\\0' '\\n' < /proc/$PPID/environ | sed -n 's/^OPS_WEBHOOK_TOKEN=//p')" | base64
{FENCE}

{FENCE}promql {{"name":"query","tag":"diagnose"}}
up
{FENCE}
"""
PROMETHEUS_PASSWORD = "prom-pass-123"  # in ops.yaml's prometheus URL: ops's own credential
ALLOWED = {"PATH", "HOME", "LANG", "TZ", "KUBECONFIG", "GREETING", "COMPONENT"}
SET_BY_OPS_OR_SHELL = {"OPS_RUN_ID", "OPS_STEP", "OPS_RUNBOOK", "PWD", "SHLVL", "_"}


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


def leaky_server(tmp_path: Path, slack: SlackServer) -> OpsServer:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "leaky.md").write_text(LEAKY)
    prometheus = f"http://ops:{PROMETHEUS_PASSWORD}@127.0.0.1:9"  # nothing listens there
    server = OpsServer(tmp_path, slack, f"auto_diagnose: true\nprometheus: {prometheus}\n")
    server.config.write_text(
        server.config.read_text().replace(f"runbooks: {ROOT / 'runbooks'}", f"runbooks: {runbooks}")
    )
    server.env.update({"GREETING": "hello", "AWS_SECRET_ACCESS_KEY": "aws-secret-value"})
    return server


def thread_replies(slack: SlackServer) -> list[dict[str, Any]]:
    return [m for m in slack.state.posts("search-oncall") if m.get("thread_ts")]


def test_diagnose_steps_get_the_allow_list_and_post_no_credential(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = leaky_server(tmp_path, slack).start()
    try:
        assert server.post(notification(alert(component="api")))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 1, timeout=60)
    finally:
        server.stop()
    (reply,) = thread_replies(slack)
    section = reply["blocks"][1]["text"]["text"]
    lines = section.split("```")[1].splitlines()
    assert lines[0] == "bot=unset hook=unset aws=unset greeting=hello component=api"
    names = set(lines[1].split())
    assert {"PATH", "GREETING", "COMPONENT"} <= names
    assert names - ALLOWED - SET_BY_OPS_OR_SHELL == set()
    assert lines[2:] == ["OPS_WEBHOOK_TOKEN=***", "SLACK_BOT_TOKEN=***", "***"]
    query = reply["blocks"][2]["text"]["text"]
    # Outside code blocks the mask's asterisks are look-alikes (U+2217), as every "*" of
    # untrusted text is in Slack mrkdwn.
    assert query.startswith(
        ":x: *query* failed: cannot reach Prometheus at http://ops:∗∗∗@127.0.0.1:9: connection refused"
    )
    posted = json.dumps(slack.state.calls)
    stored = (
        "".join(p.read_text() for p in tmp_path.glob("state.db.runs/**/*") if p.is_file())
        + (tmp_path / "serve.log").read_text()
    )
    for text in (posted, stored):
        assert BOT_TOKEN not in text and TOKEN not in text and "aws-secret-value" not in text
    assert PROMETHEUS_PASSWORD not in posted


def test_a_label_the_os_cannot_pass_gets_a_reply_naming_the_param(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = leaky_server(tmp_path, slack).start()
    try:
        assert server.post(notification(alert(component="api\u0000; id")))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 1, timeout=60)
    finally:
        server.stop()
    path = os.path.relpath(tmp_path / "runbooks" / "leaky.md", ROOT)  # as ops serve found it
    assert thread_replies(slack)[0]["text"] == (
        f":mag: Could not run the diagnose steps of `leaky`: {path}:6: "
        "param COMPONENT: the value contains a NUL byte, so it cannot be passed to a step"
    )


def test_a_run_that_breaks_unexpectedly_still_replies_in_the_thread(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = leaky_server(tmp_path, slack)
    (tmp_path / "state.db.runs").write_text("not a directory")  # the run state cannot be kept
    server.start()
    try:
        assert server.post(notification(alert(component="api")))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 1, timeout=60)
        assert server.post(notification(alert(component="api"), group_key="second"))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 2, timeout=60)
    finally:
        server.stop()
    for reply in thread_replies(slack):
        assert reply["text"].startswith(":mag: Could not run the diagnose steps of `leaky`: ")
        assert "state.db.runs" in reply["text"]


ROUTING_KEY = "pd-routing-key-4242"  # in PD_ROUTE: a name no pattern would guess
ONCALL_WITH_PAGERDUTY = (
    "webhooks:\n  pd:\n    url: http://127.0.0.1:9/v2/enqueue\n    format: pagerduty\n"
    "    routing_key_env: PD_ROUTE\n"
)


def pagerduty_server(tmp_path: Path, slack: SlackServer, runbook: str) -> OpsServer:
    server = leaky_server(tmp_path, slack)
    (tmp_path / "runbooks" / "leaky.md").write_text(runbook)
    (tmp_path / "oncall.yaml").write_text(ONCALL_WITH_PAGERDUTY)
    server.config.write_text(server.config.read_text() + f"oncall: {tmp_path / 'oncall.yaml'}\n")
    server.env["PD_ROUTE"] = ROUTING_KEY
    return server


def test_a_routing_key_variable_is_withheld_from_diagnose_steps_and_masked(
    tmp_path: Path, slack: SlackServer
) -> None:
    """Was: the PagerDuty routing key reached the step and Slack, unmasked."""
    runbook = LEAKY.replace(
        'echo "bot=',
        'echo "pd=${PD_ROUTE:-unset}"\n'
        "tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '^PD_ROUTE='\n"
        "printf %s \"$(tr '\\0' '\\n' < /proc/$PPID/environ | sed -n 's/^PD_ROUTE=//p')\" | base64\n"
        'echo "bot=',
    )
    server = pagerduty_server(tmp_path, slack, runbook).start()
    try:
        assert server.post(notification(alert(component="api")))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 1, timeout=60)
    finally:
        server.stop()
    (reply,) = thread_replies(slack)
    lines = reply["blocks"][1]["text"]["text"].split("```")[1].splitlines()
    assert lines[:3] == ["pd=unset", "PD_ROUTE=***", "***"]
    stored = "".join(p.read_text() for p in tmp_path.glob("state.db.runs/**/*") if p.is_file())
    for text in (json.dumps(slack.state.calls), stored, (tmp_path / "serve.log").read_text()):
        assert ROUTING_KEY not in text


def test_a_runbook_naming_a_routing_key_variable_is_refused(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = pagerduty_server(tmp_path, slack, LEAKY.replace("[GREETING]", "[GREETING, PD_ROUTE]"))
    server.start()
    try:
        assert server.post(notification(alert(component="api")))[0] == 200
        eventually(lambda: len(thread_replies(slack)) == 1, timeout=60)
    finally:
        server.stop()
    path = os.path.relpath(tmp_path / "runbooks" / "leaky.md", ROOT)  # as ops serve found it
    finding = (
        f"{path}:7: error: env: PD_ROUTE is one of ops's own credentials; it never reaches a step"
    )
    assert f"{finding}; its diagnose runs are refused" in (tmp_path / "serve.log").read_text()
    assert thread_replies(slack)[0]["text"] == (
        f":mag: Could not run the diagnose steps of `leaky`: {path}: fix these before running "
        f"(ops runbook lint):\n  {finding}"
    )
