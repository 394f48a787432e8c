"""Email tiers over SMTP, against a real SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import email
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ops_toolkit.demo.servers import free_port
from ops_toolkit.errors import ConfigError, NotifyError
from ops_toolkit.notify.email import EmailSender, SmtpSettings, email_message

T0 = 1_780_000_000.0


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.defer = 0  # DATA answers to give as 451 (received, then "try again later")

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if self.defer:
            self.defer -= 1
            return "451 4.3.0 try again later"
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def page(to: list[str]) -> Any:
    return email_message(
        sender="ops@example.com",
        to=to,
        subject="[tier 2] SearchErrors:\n search-api returns 5xx",
        text="Nobody acknowledged in 10 minutes.\nRunbook: runbooks/search-errors.md",
        key="ops-0123456789abcdef0123456789abcdef",
        timestamp=T0,
    )


def test_a_page_is_delivered_with_a_stable_message_id(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    EmailSender(SmtpSettings("127.0.0.1", port)).send(page(["dana@example.com"]))
    ((sender, recipients, content),) = mailbox.messages
    parsed = email.message_from_bytes(content)
    assert (sender, recipients) == ("ops@example.com", ["dana@example.com"])
    assert parsed["Subject"] == "[tier 2] SearchErrors: search-api returns 5xx"
    assert parsed["Message-ID"] == "<ops-0123456789abcdef0123456789abcdef@example.com>"
    assert parsed.get_payload(decode=True).decode().startswith("Nobody acknowledged")


def test_a_refused_recipient_is_permanent(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    mailbox.refuse.add("gone@example.com")
    with pytest.raises(NotifyError) as caught:
        EmailSender(SmtpSettings("127.0.0.1", port)).send(page(["gone@example.com"]))
    assert str(caught.value) == f"SMTP 127.0.0.1:{port}: every recipient refused: gone@example.com"
    assert caught.value.permanent


def test_one_refused_recipient_of_two_still_delivers_to_the_other(
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp
    mailbox.refuse.add("gone@example.com")
    with pytest.raises(NotifyError) as caught:
        EmailSender(SmtpSettings("127.0.0.1", port)).send(
            page(["dana@example.com", "gone@example.com"])
        )
    assert str(caught.value) == (
        f"SMTP 127.0.0.1:{port}: refused gone@example.com (sent to the others)"
    )
    assert [m[1] for m in mailbox.messages] == [["dana@example.com"]]


def test_no_server_is_a_retryable_error() -> None:
    with pytest.raises(NotifyError) as caught:
        EmailSender(SmtpSettings("127.0.0.1", 9, timeout=2)).send(page(["dana@example.com"]))
    assert str(caught.value).startswith("SMTP 127.0.0.1:9: cannot send: ")
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "OPS_SMTP_HOST: not set; email tiers need an SMTP server"),
        (
            {"OPS_SMTP_HOST": "mail", "OPS_SMTP_PORT": "smtp"},
            "OPS_SMTP_PORT: expected a port number, got 'smtp'",
        ),
    ],
    ids=["no host", "port not a number"],
)
def test_settings_errors_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpSettings.from_environment(environ)
    assert str(caught.value) == message
