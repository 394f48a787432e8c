"""What delivery needs from a chat service; Slack and the console both provide it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

# A chat channel as routes, reports and schedules name it: #name or a Slack id.
CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,})$")


class Notifier(Protocol):
    """Posts, updates and finds messages. Failures raise ``NotifyError``."""

    def post(
        self, channel: str, message: dict[str, Any], outbox_id: int, thread_ts: str | None
    ) -> tuple[str, str]:
        """Post ``message``; returns (channel id, message ts)."""
        ...

    def update(self, channel_id: str, ts: str, message: dict[str, Any]) -> None: ...

    def upload(
        self, channel: str, thread_ts: str | None, filename: str, content: bytes, title: str
    ) -> tuple[str, str]:
        """Upload a file into a channel (or thread); returns (channel id, file id)."""
        ...

    def find(self, channel: str, outbox_id: int, thread_ts: str | None) -> tuple[str, str] | None:
        """(channel id, ts) of a message already posted for ``outbox_id``, if any."""
        ...


OUTBOX_EVENT = "ops_outbox"


@dataclass(frozen=True)
class Planned:
    """A message to send, as the outbox keeps it: which alert group (or report, or page) it
    belongs to, where it goes, what to do (post, reply, update, upload, webhook, email)."""

    group_key: str
    channel: str
    action: str
    message: dict[str, Any]
