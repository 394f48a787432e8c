"""A local Slack-compatible Web API for tests: records every call, keeps messages, and can
answer 429 with Retry-After, 500, or hang, so the real ``slack_sdk.WebClient`` meets real
HTTP behaviour without reaching Slack.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    method: str
    kind: str  # "429" | "500" | "hang" | "hang_after_store" | "answer" (``body`` as is)
    count: int
    retry_after: int | str = 1
    seconds: float = 30.0
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class SlackState:
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    messages: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # channel id -> messages
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> content
    files: list[dict[str, Any]] = field(default_factory=list)  # completed uploads
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: int = 0
    users: dict[str, str] = field(default_factory=dict)  # email -> user id (lookupByEmail)
    responses: list[dict[str, Any]] = field(default_factory=list)  # bodies sent to response_url

    def channel(self, name: str) -> str:
        for cid, existing in self.channels.items():
            if existing == name:
                return cid
        cid = f"C{len(self.channels) + 1:08d}"
        self.channels[cid] = name
        self.messages[cid] = []
        return cid

    def posts(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages.get(self.channel(name), []))

    def top_level(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.posts(name) if not m.get("thread_ts")]

    def replies(self, name: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.posts(name) if m.get("thread_ts") == ts]

    def fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def next_ts(self) -> str:
        self.clock += 1
        return f"{int(time.time())}.{self.clock:06d}"


def _handler(state: SlackState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _arguments(self) -> dict[str, Any]:
            parsed = urllib.parse.urlparse(self.path)
            arguments: dict[str, Any] = dict(urllib.parse.parse_qsl(parsed.query))
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if body:
                if "json" in (self.headers.get("content-type") or ""):
                    arguments.update(json.loads(body))
                else:
                    arguments.update(dict(urllib.parse.parse_qsl(body.decode())))
            for key in ("blocks", "metadata"):
                if isinstance(arguments.get(key), str):
                    arguments[key] = json.loads(arguments[key])
            return arguments

        def _send(
            self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            path = urllib.parse.urlparse(self.path).path
            if path.startswith("/response/"):  # a response_url of an interaction or command
                length = int(self.headers.get("content-length") or 0)
                with state.lock:
                    state.responses.append(json.loads(self.rfile.read(length) or b"{}"))
                self._send(200, {"ok": True})
                return
            if path.startswith("/upload/"):
                length = int(self.headers.get("content-length") or 0)
                with state.lock:
                    state.uploads[path.rsplit("/", 1)[-1]] = self.rfile.read(length)
                body = b"OK"
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            method = path.rsplit("/", 1)[-1]
            arguments = self._arguments()
            with state.lock:
                state.calls.append((method, arguments))
            if not (self.headers.get("authorization") or "").startswith("Bearer xoxb-"):
                self._send(200, {"ok": False, "error": "not_authed"})
                return
            fault = state.fault(method)
            if fault is not None and fault.kind == "429":
                self._send(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(fault.retry_after)},
                )
                return
            if fault is not None and fault.kind == "500":
                self._send(500, {"ok": False, "error": "internal_error"})
                return
            if fault is not None and fault.kind == "hang":
                time.sleep(fault.seconds)
                return
            if fault is not None and fault.kind == "answer":
                self.send_response(200)
                self.send_header("content-type", fault.content_type)
                self.send_header("content-length", str(len(fault.body)))
                self.end_headers()
                self.wfile.write(fault.body)
                return
            result = self._call(method, arguments)
            if fault is not None and fault.kind == "hang_after_store":
                time.sleep(fault.seconds)
                return
            self._send(200, result)

        def _call(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
            with state.lock:
                if method == "auth.test":
                    return {"ok": True, "user_id": "UBOT", "team": "test"}
                if method == "conversations.list":
                    return {
                        "ok": True,
                        "channels": [{"id": c, "name": n} for c, n in state.channels.items()],
                        "response_metadata": {"next_cursor": ""},
                    }
                if method == "users.lookupByEmail":
                    user_id = state.users.get(str(arguments.get("email", "")))
                    if user_id is None:
                        return {"ok": False, "error": "users_not_found"}
                    return {"ok": True, "user": {"id": user_id}}
                if method == "files.getUploadURLExternal":
                    file_id = f"F{len(state.uploads) + len(state.files) + 1:08d}"
                    host, port = self.server.server_address[:2]
                    return {
                        "ok": True,
                        "file_id": file_id,
                        "upload_url": f"http://{host}:{port}/upload/{file_id}",
                    }
                if method == "files.completeUploadExternal":
                    files = arguments.get("files")
                    files = json.loads(files) if isinstance(files, str) else files
                    for item in files or []:
                        state.files.append(
                            {
                                "id": item["id"],
                                "title": item.get("title"),
                                "channel": arguments.get("channel_id"),
                                "thread_ts": arguments.get("thread_ts"),
                                "content": state.uploads.get(item["id"], b""),
                            }
                        )
                    return {"ok": True, "files": [{"id": f["id"]} for f in files or []]}
                channel = str(arguments.get("channel", ""))
                if channel not in state.channels:
                    return {"ok": False, "error": "channel_not_found"}
                messages = state.messages[channel]
                if method == "chat.postMessage":
                    thread = arguments.get("thread_ts")
                    if thread and not any(m["ts"] == thread for m in messages):
                        return {"ok": False, "error": "thread_not_found"}
                    message = {
                        "ts": state.next_ts(),
                        "text": arguments.get("text", ""),
                        "blocks": arguments.get("blocks"),
                        "metadata": arguments.get("metadata"),
                        "thread_ts": thread,
                        "updates": 0,
                    }
                    messages.append(message)
                    return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
                if method == "chat.update":
                    for message in messages:
                        if message["ts"] == arguments.get("ts"):
                            message.update(
                                text=arguments.get("text", ""), blocks=arguments.get("blocks")
                            )
                            message["updates"] += 1
                            return {"ok": True, "channel": channel, "ts": message["ts"]}
                    return {"ok": False, "error": "message_not_found"}
                if method == "conversations.history":
                    top = [m for m in messages if not m.get("thread_ts")]
                    return {
                        "ok": True,
                        "messages": list(reversed(top))[: int(arguments.get("limit", 100))],
                    }
                if method == "conversations.replies":
                    ts = arguments.get("ts")
                    thread = [m for m in messages if m["ts"] == ts or m.get("thread_ts") == ts]
                    return {"ok": True, "messages": thread}
            return {"ok": False, "error": "unknown_method"}

    return Handler


class SlackServer:
    def __init__(self, channels: list[str]) -> None:
        self.state = SlackState()
        for name in channels:
            self.state.channel(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    @property
    def response_url(self) -> str:
        """Where a test's interaction payloads say Slack wants the answer."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/response/T1/1/abc"

    def __enter__(self) -> SlackServer:
        self.thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def slack_server(channels: list[str]) -> Iterator[SlackServer]:
    with SlackServer(channels) as server:
        yield server
