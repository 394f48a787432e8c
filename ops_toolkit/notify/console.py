"""The embedded default notifier: messages to the console and a JSON Lines file, no Slack."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, TextIO


class ConsoleNotifier:
    """Prints each message and appends it to ``path``; ``find`` reads that file back."""

    def __init__(self, path: str, stream: TextIO | None = None) -> None:
        self.path = path
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def _append(self, record: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(handle, line.encode())
                os.fsync(handle)
            finally:
                os.close(handle)

    def _show(self, action: str, channel: str, message: dict[str, Any]) -> None:
        lines = [f"[{channel}] {action}: {message['text']}"]
        blocks = message.get("blocks", [])
        if action == "reply":  # thread replies carry their detail in sections
            for block in blocks[1:]:
                text = (block.get("text") or {}).get("text", "")
                lines += [f"    {line}" for line in text.splitlines()[:8]]
        for block in blocks:
            if block.get("type") == "actions":
                elements = block.get("elements", [])
                for element in elements:
                    if element.get("url"):
                        lines.append(f"    {element['text']['text']}: {element['url']}")
                pressable = [e["text"]["text"] for e in elements if not e.get("url")]
                if pressable:  # escalation buttons: they act, they do not link
                    lines.append("    [" + "] [".join(pressable) + "]")
            elif block.get("type") == "context":
                lines.append("    " + " ".join(e.get("text", "") for e in block["elements"]))
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def post(
        self, channel: str, message: dict[str, Any], outbox_id: int, thread_ts: str | None
    ) -> tuple[str, str]:
        ts = f"{time.time():.6f}"
        self._append(
            {
                "action": "post",
                "channel": channel,
                "ts": ts,
                "thread_ts": thread_ts,
                "outbox_id": outbox_id,
                "message": message,
            }
        )
        self._show("reply" if thread_ts else "post", channel, message)
        return channel, ts

    def update(self, channel_id: str, ts: str, message: dict[str, Any]) -> None:
        self._append({"action": "update", "channel": channel_id, "ts": ts, "message": message})
        self._show("update", channel_id, message)

    def upload(
        self, channel: str, thread_ts: str | None, filename: str, content: bytes, title: str
    ) -> tuple[str, str]:
        directory = os.path.dirname(os.path.abspath(self.path))
        target = os.path.join(directory, f"{time.time():.0f}-{filename}")
        with open(target, "wb") as handle:
            handle.write(content)
        self._append(
            {
                "action": "upload",
                "channel": channel,
                "thread_ts": thread_ts,
                "file": target,
                "title": title,
            }
        )
        self.stream.write(f"[{channel}] upload: {title}: {target}\n")
        self.stream.flush()
        return channel, target

    def find(self, channel: str, outbox_id: int, thread_ts: str | None) -> tuple[str, str] | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record.get("action") == "post" and record.get("outbox_id") == outbox_id:
                        return str(record["channel"]), str(record["ts"])
        except (FileNotFoundError, ValueError):
            return None
        return None
