"""Email over SMTP, for tiers that page people outside Slack.

``email_message`` is pure; ``EmailSender`` is the edge. SMTP settings come from the
environment (``OPS_SMTP_HOST``, ``OPS_SMTP_PORT``, ``OPS_SMTP_FROM``, ``OPS_SMTP_USER``,
``OPS_SMTP_PASSWORD``, ``OPS_SMTP_STARTTLS``), so no credential sits in a YAML file.
The Message-ID is the delivery's key (``outside.delivery_key``, derived from the outbox
entry): a retry after an unknown outcome, by any replica, carries the same Message-ID, which
mail systems use to drop the duplicate.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from ops_toolkit.errors import ConfigError, NotifyError


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "ops@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpSettings:
        host = environ.get("OPS_SMTP_HOST")
        if not host:
            raise ConfigError("OPS_SMTP_HOST: not set; email tiers need an SMTP server")
        port_text = environ.get("OPS_SMTP_PORT", "25")
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise ConfigError(f"OPS_SMTP_PORT: expected a port number, got {port_text!r}")
        return cls(
            host=host,
            port=int(port_text),
            sender=environ.get("OPS_SMTP_FROM", "ops@localhost"),
            username=environ.get("OPS_SMTP_USER") or None,
            password=environ.get("OPS_SMTP_PASSWORD") or None,
            starttls=environ.get("OPS_SMTP_STARTTLS", "") in ("1", "true", "yes"),
        )


def email_message(
    *, sender: str, to: Sequence[str], subject: str, text: str, key: str, timestamp: float
) -> EmailMessage:
    """The email of one outbox entry; ``key``, its delivery key, makes the Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = " ".join(subject.split())[:200]
    message["Date"] = formatdate(timestamp, usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{key}@{domain}>"
    message.set_content(text)
    return message


class EmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
                if settings.starttls:
                    smtp.starttls()
                if settings.username and settings.password:
                    smtp.login(settings.username, settings.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(
                f"SMTP {settings.host}:{settings.port}: every recipient refused: "
                f"{', '.join(sorted(exc.recipients))}",
                permanent=True,
            ) from None
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            raise NotifyError(
                f"SMTP {settings.host}:{settings.port}: {exc.smtp_code} {text}",
                permanent=exc.smtp_code >= 500,  # 4xx is temporary: try again later
            ) from None
        except TimeoutError:
            raise NotifyError(
                f"SMTP {settings.host}:{settings.port}: timed out; outcome unknown"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"SMTP {settings.host}:{settings.port}: cannot send: {exc}") from None
        if refused:
            raise NotifyError(
                f"SMTP {settings.host}:{settings.port}: refused {', '.join(sorted(refused))} "
                "(sent to the others)",
                permanent=True,
            )


def smtp_settings() -> SmtpSettings:
    return SmtpSettings.from_environment(os.environ)
