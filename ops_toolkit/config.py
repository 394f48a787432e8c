"""``ops.yaml``: where ``ops serve`` finds everything, validated with path-precise errors.

    serve:
      listen: 127.0.0.1:9095
      state: ops-state.db            # SQLite: inbox, outbox, threads
      messages: ops-messages.jsonl   # the console notifier's file (no Slack token)
      pace_seconds: 1                # per channel
      max_age: 1h                    # then an undelivered message is dead-lettered
      inbox_limit: 10000             # then 503
    routes: alerts/routes.yaml
    runbooks: runbooks
    runbook_base_url: https://git.example.com/ops/-/blob/main
    slos: [slos]
    prometheus: http://127.0.0.1:9090

Every key is optional; a missing file means all defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ops_toolkit.durations import parse_duration
from ops_toolkit.yamlpath import Node, parse_documents, read_text


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 9095
    state: str = "ops-state.db"
    messages: str = "ops-messages.jsonl"
    pace_seconds: float = 1.0
    max_age: float = 3600.0
    inbox_limit: int = 10_000


@dataclass(frozen=True)
class OpsConfig:
    source: str | None = None
    serve: ServeSettings = field(default_factory=ServeSettings)
    routes: str | None = None
    runbooks: str = "runbooks"
    runbook_base_url: str | None = None
    slos: tuple[str, ...] = ("slos",)
    prometheus: str | None = None


def parse_listen(text: str, node: Node | None = None) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        message = f"expected HOST:PORT like 127.0.0.1:9095, got {text!r}"
        if node is not None:
            raise node.error(message)
        raise ValueError(message)
    return host.strip("[]"), int(port)


def _number(node: Node, key: str, default: float, *, duration: bool = False) -> float:
    child = node.child(key)
    if child.value is None:
        return default
    if duration and isinstance(child.value, str):
        try:
            return parse_duration(child.value)
        except ValueError as exc:
            raise child.error(str(exc)) from None
    if (
        isinstance(child.value, bool)
        or not isinstance(child.value, int | float)
        or child.value <= 0
    ):
        raise child.error(f"expected a positive number, got {child.value!r}")
    return float(child.value)


def parse_config(text: str, source: str) -> OpsConfig:
    documents = parse_documents(text, source)
    if not documents:
        return OpsConfig(source=source)
    root = Node(documents[0], "", source).mapping(
        (
            "serve",
            "routes",
            "runbooks",
            "runbook_base_url",
            "slos",
            "prometheus",
            "reports",
            "policies",
        )
    )
    serve = ServeSettings()
    if root.has("serve"):
        node = root.child("serve").mapping(
            ("listen", "state", "messages", "pace_seconds", "max_age", "inbox_limit")
        )
        host, port = parse_listen(
            node.text("listen", required=False) or "127.0.0.1:9095", node.child("listen")
        )
        serve = ServeSettings(
            host=host,
            port=port,
            state=node.text("state", required=False) or serve.state,
            messages=node.text("messages", required=False) or serve.messages,
            pace_seconds=_number(node, "pace_seconds", serve.pace_seconds),
            max_age=_number(node, "max_age", serve.max_age, duration=True),
            inbox_limit=int(_number(node, "inbox_limit", serve.inbox_limit)),
        )
    slos_node = root.child("slos")
    if isinstance(slos_node.value, str):
        slos: tuple[str, ...] = (slos_node.value,)
    elif slos_node.value is None:
        slos = ("slos",)
    else:
        slos = tuple(str(n.value) for n in slos_node.items())
    base_url = root.text("runbook_base_url", required=False)
    if base_url and not base_url.startswith(("http://", "https://")):
        raise root.child("runbook_base_url").error(f"expected an http(s) URL, got {base_url!r}")
    return OpsConfig(
        source=source,
        serve=serve,
        routes=root.text("routes", required=False),
        runbooks=root.text("runbooks", required=False) or "runbooks",
        runbook_base_url=base_url,
        slos=slos,
        prometheus=root.text("prometheus", required=False),
    )


def load_config(path: str | None) -> OpsConfig:
    """``path`` if given (it must exist), else ``ops.yaml`` when present, else defaults."""
    if path is None:
        if not os.path.exists("ops.yaml"):
            return OpsConfig()
        path = "ops.yaml"
    return parse_config(read_text(path), path)
