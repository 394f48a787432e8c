"""Slack through the real ``slack_sdk.WebClient``: the only module that talks to Slack.

``SLACK_API_URL`` points the client at any Slack-compatible API (the tests' local server).
Every posted message carries metadata with its outbox id, so a post whose outcome is
unknown (a timeout, a crash) is looked up in the channel before it is sent again.
"""

from __future__ import annotations

import math
import urllib.error
from typing import Any

from ops_toolkit.errors import NotifyError
from ops_toolkit.notify.model import OUTBOX_EVENT

PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "missing_scope",
        "invalid_metadata_format",
    }
)
HISTORY_LIMIT = 100
MAX_RETRY_AFTER = 900.0
MAX_PAGES = 200  # of 1,000 channels each


class SlackNotifier:
    def __init__(self, token: str, *, base_url: str | None = None, timeout: float = 10.0) -> None:
        from slack_sdk import WebClient

        url = (base_url or "https://slack.com/api/").rstrip("/") + "/"
        self.client = WebClient(
            token=token, base_url=url, timeout=int(max(1, timeout)), retry_handlers=[]
        )
        self._ids: dict[str, str] = {}
        self._users: dict[str, str] = {}

    def _call(self, method: str, **arguments: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        try:
            return getattr(self.client, method)(**arguments)
        except SlackApiError as exc:
            raise _translate(method, exc) from None
        except TimeoutError as exc:
            raise NotifyError(f"Slack {method}: timed out ({exc}); outcome unknown") from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotifyError(f"Slack {method}: cannot connect: {reason}") from None

    def channel_id(self, channel: str) -> str:
        """Channel names resolve to ids once (history and updates need ids)."""
        if not channel.startswith("#"):
            return channel
        if channel not in self._ids:
            cursor = None
            seen: set[str] = set()
            while True:
                page = self._call(
                    "conversations_list",
                    limit=1000,
                    cursor=cursor,
                    exclude_archived=True,
                    types="public_channel,private_channel",
                )
                for item in _list(page, "channels"):
                    name, ident = item.get("name"), item.get("id")
                    if isinstance(name, str) and isinstance(ident, str) and ident:
                        self._ids[f"#{name}"] = ident
                metadata = page.get("response_metadata")
                cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
                cursor = cursor if isinstance(cursor, str) else None
                if channel in self._ids or not cursor:
                    break
                if cursor in seen or len(seen) >= MAX_PAGES:
                    # a cursor that comes back (or endless pages) would hold delivery forever
                    raise NotifyError(
                        f"Slack conversations_list: paging did not end after {len(seen) + 1} "
                        f"pages looking for {channel}"
                    )
                seen.add(cursor)
        if channel not in self._ids:
            raise NotifyError(
                f"Slack: no channel {channel} visible to the bot; invite it or fix "
                "alerts/routes.yaml",
                permanent=True,
            )
        return self._ids[channel]

    def post(
        self, channel: str, message: dict[str, Any], outbox_id: int, thread_ts: str | None
    ) -> tuple[str, str]:
        arguments: dict[str, Any] = {
            "channel": self.channel_id(channel),
            "text": message["text"],
            "blocks": message.get("blocks") or None,
            "metadata": {"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": outbox_id}},
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        response = self._call("chat_postMessage", **arguments)
        return _where(response, "chat_postMessage", arguments["channel"])

    def update(self, channel_id: str, ts: str, message: dict[str, Any]) -> None:
        self._call(
            "chat_update",
            channel=channel_id,
            ts=ts,
            text=message["text"],
            blocks=message.get("blocks") or None,
        )

    def upload(
        self, channel: str, thread_ts: str | None, filename: str, content: bytes, title: str
    ) -> tuple[str, str]:
        channel_id = self.channel_id(channel)
        arguments: dict[str, Any] = {
            "channel": channel_id,
            "filename": filename,
            "content": content,
            "title": title,
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        response = self._call("files_upload_v2", **arguments)
        files = _list(response, "files") or [response.get("file") or {}]
        file_id = files[0].get("id") if isinstance(files[0], dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise NotifyError("Slack files_upload_v2: answer without a file id; outcome unknown")
        return channel_id, file_id

    def lookup_email(self, email: str) -> str | None:
        """A participant's Slack user id from their email (``users:read.email`` scope)."""
        if email not in self._users:
            try:
                response = self._call("users_lookupByEmail", email=email)
                self._users[email] = str(response["user"]["id"])
            except NotifyError:
                return None  # unknown or unreachable: the page shows the address instead
        return self._users[email]

    def known_email(self, email: str) -> str | None:
        """A participant's Slack id if already looked up (no call: for request paths)."""
        return self._users.get(email)

    def find(self, channel: str, outbox_id: int, thread_ts: str | None) -> tuple[str, str] | None:
        channel_id = self.channel_id(channel)
        if thread_ts:
            page = self._call(
                "conversations_replies",
                channel=channel_id,
                ts=thread_ts,
                limit=HISTORY_LIMIT,
                include_all_metadata=True,
            )
        else:
            page = self._call(
                "conversations_history",
                channel=channel_id,
                limit=HISTORY_LIMIT,
                include_all_metadata=True,
            )
        for item in _list(page, "messages"):
            metadata = item.get("metadata")
            payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
            if (
                isinstance(metadata, dict)
                and isinstance(payload, dict)
                and metadata.get("event_type") == OUTBOX_EVENT
                and payload.get("outbox_id") == outbox_id
                and isinstance(item.get("ts"), str)
            ):
                return channel_id, str(item["ts"])
        return None


def _translate(method: str, exc: Any) -> NotifyError:
    response = exc.response
    status = getattr(response, "status_code", 0)
    error = ""
    try:
        error = str(response.get("error", ""))
    except (AttributeError, TypeError):
        error = ""
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        retry_after = _seconds(headers.get("Retry-After") or headers.get("retry-after"))
        return NotifyError(
            f"Slack {method}: rate limited; retry after {retry_after:g}s", retry_after=retry_after
        )
    if status >= 500:
        return NotifyError(f"Slack {method}: HTTP {status}")
    return NotifyError(f"Slack {method}: {error or f'HTTP {status}'}", permanent=error in PERMANENT)


def _where(response: Any, method: str, channel: str) -> tuple[str, str]:
    """(channel id, ts) of a posted message; an answer without them leaves the outcome unknown."""
    ts, where = response.get("ts"), response.get("channel", channel)
    if not isinstance(ts, str) or not ts or not isinstance(where, str):
        raise NotifyError(f"Slack {method}: answer without a message ts; outcome unknown")
    return where, ts


def _list(page: Any, key: str) -> list[dict[str, Any]]:
    """The objects under ``key`` of an answer, ignoring anything else that is there."""
    items = page.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _seconds(value: Any) -> float:
    """A Retry-After in seconds, bounded: a bogus header never silences a channel for long."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    return 1.0 if math.isnan(seconds) else min(MAX_RETRY_AFTER, max(0.0, seconds))
