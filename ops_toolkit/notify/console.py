"""The embedded default notifier: messages to the console and a JSON Lines file, no Slack."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from ops_toolkit.errors import NotifyError


class ConsoleNotifier:
    """Prints each message and appends it to ``path``; ``find`` reads that file back."""

    def __init__(
        self,
        path: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.stream = stream or sys.stdout
        self.clock = clock  # names the copies of uploaded files
        self._lock = threading.Lock()

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with self._lock:
                handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(handle, line.encode())
                    os.fsync(handle)
                finally:
                    os.close(handle)
        except OSError as exc:  # delivery retries a NotifyError; anything else was a bug
            raise NotifyError(
                f"console notifier: cannot write {self.path}: {exc.strerror or exc}"
            ) from None

    def _write(self, text: str) -> None:
        """Show ``text`` on the terminal, its control characters made visible and inert.

        The message is already in the file: a closed or broken terminal does not fail it.
        """
        try:
            self.stream.write(inert(text))
            self.stream.flush()
        except (OSError, ValueError):
            pass

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
        self._write("\n".join(lines) + "\n")

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
        # the chart written by 'ops slo report --chart' is pointed at, not copied
        target = filename if _holds(filename, content) else self._copy(filename, content)
        self._append(
            {
                "action": "upload",
                "channel": channel,
                "thread_ts": thread_ts,
                "file": target,
                "title": title,
            }
        )
        self._write(f"[{channel}] upload: {title}: {target}\n")
        return channel, target

    def _copy(self, filename: str, content: bytes) -> str:
        """A copy of an upload beside the messages. Its name is predictable, so it is
        written through ``write_atomically``: a link planted at it is replaced, never
        followed (``open(..., "wb")`` overwrote the file it pointed to)."""
        from ops_toolkit.files import write_atomically

        directory = os.path.dirname(os.path.abspath(self.path))
        target = os.path.join(directory, f"{self.clock():.0f}-{os.path.basename(filename)}")
        try:
            write_atomically(target, content)
        except OSError as exc:
            raise NotifyError(
                f"console notifier: cannot write {target}: {exc.strerror or exc}"
            ) from None
        return target

    def find(self, channel: str, outbox_id: int, thread_ts: str | None) -> tuple[str, str] | None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash: the ones after it still count
                    if (
                        isinstance(record, dict)
                        and record.get("action") == "post"
                        and record.get("outbox_id") == outbox_id
                    ):
                        return str(record.get("channel")), str(record.get("ts"))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NotifyError(
                f"console notifier: cannot read {self.path}: {exc.strerror or exc}"
            ) from None
        return None


def inert(text: str) -> str:
    """Control characters (escape sequences, carriage returns) shown as ``\\xNN``."""
    return "".join(
        c
        if c == "\n" or c.isprintable()
        else f"\\x{ord(c):02x}"
        if ord(c) < 256
        else f"\\u{ord(c):04x}"
        for c in text
    )


def _holds(path: str, content: bytes) -> bool:
    """Whether ``path`` is an absolute path to a file with exactly ``content``."""
    if not os.path.isabs(path):
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read() == content
    except OSError:
        return False
