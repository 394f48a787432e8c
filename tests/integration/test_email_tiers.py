"""Email tiers need SMTP settings, checked where a missing Slack token is: ``ops check`` and the
start of ``ops serve``. A real ``ops serve``, the local Slack-compatible API and a real SMTP
server (aiosmtpd).

Before: with ``OPS_SMTP_HOST`` unset, ``ops check --strict`` passed and ``ops serve`` started
silently; every page to the tier was dead-lettered, and ``ops outbox list`` showed the entry
going to ``email``, not to whom.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.alerts.payloads import notification
from tests.integration.test_serve import OpsServer, eventually
from tests.notify.test_email import Mailbox, smtp  # noqa: F401  (the SMTP server fixture)
from tests.slack_api import SlackServer, slack_server

ONCALL = """\
policies:
  - name: search
    tiers:
      - {users: [U0PRIMARY1], wait: 1h}
  - name: incidents
    tiers:
      - {users: [U0LEAD0001], email: [ic@example.com, cto@example.com]}
"""
ROUTES = """\
default: {channel: "#alerts"}
routes:
  - match: {service: search}
    channel: "#search-oncall"
    escalation: incidents
"""
SMTP_VARIABLES = ("OPS_SMTP_HOST", "OPS_SMTP_PORT", "OPS_SMTP_FROM")


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def emailing_server(tmp_path: Path, slack: SlackServer) -> OpsServer:
    server = OpsServer.escalating(tmp_path, slack, ONCALL, ROUTES)
    server.env = {k: v for k, v in server.env.items() if k not in SMTP_VARIABLES}
    return server


def unsendable(tmp_path: Path) -> str:
    return (
        f"{tmp_path / 'oncall.yaml'}: policies[1].tiers[0].email: OPS_SMTP_HOST: not set; "
        "email tiers need an SMTP server"
    )


def test_ops_check_reports_an_email_tier_without_smtp(
    tmp_path: Path, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = emailing_server(tmp_path, slack)
    for name in SMTP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "slos").mkdir()  # nothing else to report
    (tmp_path / "runbooks").mkdir()
    result = CliRunner().invoke(main, ["check", "--strict", "--config", str(server.config)])
    assert result.exit_code == 1
    assert result.stdout == f"error: {unsendable(tmp_path)}\n"
    monkeypatch.setenv("OPS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPS_SMTP_PORT", "smtp")
    result = CliRunner().invoke(main, ["check", "--strict", "--config", str(server.config)])
    assert result.stdout == (
        f"error: {tmp_path / 'oncall.yaml'}: policies[1].tiers[0].email: OPS_SMTP_PORT: "
        "expected a port number, got 'smtp'\n"
    )


def test_ops_serve_refuses_to_start_with_an_email_tier_without_smtp(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = emailing_server(tmp_path, slack)
    result = subprocess.run(
        [sys.executable, "-m", "ops_toolkit", "serve", "--config", str(server.config)],
        env=server.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (1, f"Error: {unsendable(tmp_path)}\n")


def test_an_email_tier_with_smtp_mails_and_the_outbox_names_the_recipients(
    tmp_path: Path,
    slack: SlackServer,
    smtp: tuple[Mailbox, int],  # noqa: F811
) -> None:
    mailbox, port = smtp
    server = emailing_server(tmp_path, slack)
    server.env.update(
        OPS_SMTP_HOST="127.0.0.1", OPS_SMTP_PORT=str(port), OPS_SMTP_FROM="ops@example.com"
    )
    server.start()
    try:
        assert server.post(notification())[0] == 200
        eventually(lambda: len(mailbox.messages) == 1)
    finally:
        server.stop()
    ((_, recipients, _),) = mailbox.messages
    assert sorted(recipients) == ["cto@example.com", "ic@example.com"]
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "outbox",
            "list",
            "-o",
            "json",
            "--config",
            str(server.config),
        ],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    emails = [e for e in json.loads(listed.stdout) if e["action"] == "email"]
    assert [(e["channel"], e["status"]) for e in emails] == [
        ("email:ic@example.com,cto@example.com", "sent")
    ]
