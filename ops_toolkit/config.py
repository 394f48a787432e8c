"""``ops.yaml``: where ``ops serve`` finds everything, validated with path-precise errors.

    serve:
      listen: 127.0.0.1:9095
      state: ops-state.db            # SQLite: inbox, outbox, threads
      messages: ops-messages.jsonl   # the console notifier's file (no Slack token)
      pace_seconds: 1                # per channel
      max_age: 1h                    # then an undelivered message is dead-lettered
      inbox_limit: 10000             # then 503
      max_body: 32MiB                # larger webhook bodies get 413 and a notice in chat
      diagnose_allowed_urls: [http://search-api.search.svc:8080]  # addresses labels may give
      max_connections: 4096          # open at once (default: from the open-file limit);
      max_connections_per_client: 1024   # per client address (default: a quarter); 503 over
    store:
      busy_timeout: 30s              # how long a write waits for another's lock (SQLite's
                                     # write lock; PostgreSQL's lock_timeout)
    routes: alerts/routes.yaml
    oncall: alerts/oncall.yaml       # schedules and escalation policies
    slack:
      allow:                         # who may act from Slack, per action (default: anyone)
        silence: [oncall, U0LEAD0001]   # "oncall": whoever the escalation's tiers have on call
        resolve: [oncall, U0LEAD0001]
    runbooks: runbooks
    runbook:
      audit_retention: 90d           # what 'ops runbook audit --prune' removes (only then)
    runbook_base_url: https://git.example.com/ops/-/blob/main
    slos: [slos]
    prometheus: http://127.0.0.1:9090   # or, for a multi-tenant or authenticated store:
    # prometheus:
    #   url: https://mimir.example.com/prometheus
    #   headers: {X-Scope-OrgID: search}
    #   basic_auth: {username: ops, password_env: OPS_MIMIR_PASSWORD}  # or password_file
    #   bearer_token_env: OPS_MIMIR_TOKEN                              # or bearer_token_file
    #   max_answer: 128MiB   # the largest answer taken (as sent, and inflated); the default
    alertmanager: http://127.0.0.1:9093   # where Slack's Silence buttons create silences
    auto_diagnose: true            # alerts run their runbook's diagnose steps, unattended

Every key is optional; a missing file means all defaults. Relative paths written here are
taken from this file's folder (``load_config``); defaults stay in the working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ops_toolkit.durations import MAX_SECONDS, shorten
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.source import CREDENTIAL_HEADERS, HEADER_NAME, SourceSettings
from ops_toolkit.yamlpath import (
    Node,
    check_timezone,
    parse_documents,
    positive_duration,
    read_text,
    show,
)

if TYPE_CHECKING:
    from ops_toolkit.escalate.oncall import OncallConfig

# Actions an allow-list may name; the three silences share one list.
ALLOW_ACTIONS = ("ack", "escalate", "resolve", "silence", "unsilence", "diagnose", "runbook")
ALLOW_GROUPS = {"silence_1h": "silence", "silence_4h": "silence", "silence_24h": "silence"}
ALLOWED_USER = re.compile(r"^(oncall|[UW][A-Z0-9]{6,})$")


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 9095
    state: str = "ops-state.db"
    messages: str = "ops-messages.jsonl"
    pace_seconds: float = 1.0
    max_age: float = 3600.0
    inbox_limit: int = 10_000
    max_body: int = 32 * 1024 * 1024  # bytes; real groups of 3,000 alerts are ~2.7 MiB
    read_timeout: float = 30.0  # seconds a client may take to send headers or its body
    diagnose_queue: int = 20  # auto_diagnose runs waiting their turn; more are not run
    # Connections open at once, in all and per client address; over either, 503. None:
    # derived from the open-file limit at start (ops_toolkit.serve.connections).
    max_connections: int | None = None
    max_connections_per_client: int | None = None
    # URLs an alert label may give a runbook param in an unattended run (the value is one
    # of these, or under one: a path below it); any other address from a label (a URL,
    # //host, host:port, an IP: serve.diagnose.network_location) stops the run
    diagnose_allowed_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreSettings:
    """How the store is used (``store:``); where it is stays ``serve.state``."""

    # Seconds a write waits for another connection's lock (SQLite: its write lock, held by a
    # CLI command or a backup; PostgreSQL: lock_timeout on a row or table) before it is
    # contention (StoreBusy: 503 with Retry-After, the loops retry)
    busy_timeout: float = 30.0


_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}
MAX_BODY_LIMIT = 1024**3  # 1 GiB: beyond that a body is a mistake or an attack


def parse_size(text: str) -> int:
    """Bytes in ``512KiB``, ``32MiB``, ``2MB`` or a bare number; ValueError with the reason."""
    match = _SIZE.match(text.strip())
    if not match or len(text) > 40:
        raise ValueError(f"expected a size like 32MiB or 2000000, got {text!r}")
    exact = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if not exact.is_integer():  # int() once dropped the fraction of a byte silently
        raise ValueError(f"expected a whole number of bytes, got {text!r}")
    size = int(exact)
    if not 1024 <= size <= MAX_BODY_LIMIT:
        raise ValueError(f"expected a size from 1KiB to 1GiB, got {text!r}")
    return size


@dataclass(frozen=True)
class ReportSchedule:
    """A budget report posted on a cron schedule by ``ops serve``."""

    name: str
    cron: str
    timezone: str
    slos: tuple[str, ...]  # files/directories, or service/slo selectors ("search/*")
    channel: str
    chart: bool = False


@dataclass(frozen=True)
class Policy:
    """Error-budget policy: notices when the budget crosses thresholds downward."""

    slos: tuple[str, ...]  # service/slo selectors; "*" for all
    thresholds: tuple[float, ...]  # budget remaining, percent, highest first
    channel: str
    mention: str | None = None
    hysteresis: float = 5.0  # percent points above a threshold before it re-arms ('5%')
    gate: float | None = None  # ops slo gate's minimum (percent) for these SLOs


@dataclass(frozen=True)
class OpsConfig:
    source: str | None = None
    serve: ServeSettings = field(default_factory=ServeSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    routes: str | None = None
    oncall: str | None = None
    runbooks: str = "runbooks"
    runbook_base_url: str | None = None
    slos: tuple[str, ...] = ("slos",)
    prometheus: str | None = None  # the source's URL
    prometheus_source: SourceSettings | None = None  # its URL, headers and credentials
    alertmanager: str | None = None
    reports: tuple[ReportSchedule, ...] = ()
    policies: tuple[Policy, ...] = ()
    auto_diagnose: bool = False
    audit_retention: float | None = None  # seconds; applied by 'ops runbook audit --prune'
    notifier: str | None = None  # "console" or "slack"; None: Slack when SLACK_BOT_TOKEN is set
    allow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the top-level keys the file wrote: a message can tell ops.yaml's choice from a default
    written: frozenset[str] = frozenset()

    def may(self, action: str, user: str, on_call: Collection[str]) -> bool:
        """Whether ``user`` may do ``action`` from Slack or the CLI (no list: anyone)."""
        allowed = self.allow.get(ALLOW_GROUPS.get(action, action))
        if allowed is None:
            return True
        return user in allowed or ("oncall" in allowed and user in on_call)

    def report(self, name: str) -> ReportSchedule:
        from ops_toolkit.errors import ConfigError
        from ops_toolkit.suggest import did_you_mean

        for report in self.reports:
            if report.name == name:
                return report
        names = [r.name for r in self.reports]
        hint = did_you_mean(name, names) or (f" (reports: {', '.join(names)})" if names else "")
        raise ConfigError(f"{self.source or 'ops.yaml'}: no report named {name!r}{hint}")


def parse_listen(text: str, node: Node | None = None) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        message = f"expected HOST:PORT like 127.0.0.1:9095, got {text!r}"
        if node is not None:
            raise node.error(message)
        raise ValueError(message)
    return host.strip("[]"), int(port)


def _duration(node: Node, key: str, default: float, *, limit: float = MAX_SECONDS) -> float:
    """A duration longer than 0 at ``key`` (``30s``, ``5m`` or a number of seconds), checked
    by ``positive_duration`` like every other: ``default`` when absent."""
    child = node.child(key)
    return default if child.value is None else positive_duration(child, limit=limit)


def _count(node: Node, key: str, limit: int = 1_000_000) -> int | None:
    """A whole number from 1 to ``limit`` at ``key``, None when absent."""
    child = node.child(key)
    if child.value is None:
        return None
    if isinstance(child.value, bool) or not isinstance(child.value, int):
        raise child.error(f"expected a whole number, got {shorten(repr(child.value))}")
    if not 1 <= child.value <= limit:
        raise child.error(
            f"expected a whole number from 1 to {limit:,}, got {shorten(repr(child.value))}"
        )
    return child.value


def _whole(node: Node, key: str, default: int, *, limit: int = 10**9) -> int:
    """A positive whole number at ``key``. A float, a bool or a string is refused by name:
    ``int()`` once made ``diagnose_queue: 0.5`` a silent 0 (no run ever waits)."""
    child = node.child(key)
    value = child.value
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        shown = str(value).lower() if isinstance(value, bool | float) else show(value)
        raise child.error(f"must be a whole number, got {shorten(shown)}")
    if value <= 0:
        raise child.error(f"expected a positive number, got {value}")
    if value > limit:
        raise child.error(f"expected a number up to {limit:g}, got {show(value)}")
    return value


def under(base: str, path: str) -> str:
    """``path`` as written in a file in folder ``base``: a relative path is taken from that
    folder (as kubectl, docker compose and Prometheus take theirs), so ops.yaml means the
    same files from any working directory. Absolute paths and ``base`` "" stay as they are."""
    if not base or not path or os.path.isabs(path) or path.startswith("~"):
        return path
    return os.path.normpath(os.path.join(base, path))


def _state_under(base: str, state: str) -> str:
    """``serve.state`` from the file's folder: a path or ``sqlite:PATH``; URLs stay."""
    if not state or "://" in state:
        return state
    if state.startswith("sqlite:"):
        return "sqlite:" + under(base, state.removeprefix("sqlite:"))
    return under(base, state)


def parse_config(text: str, source: str, base: str = "") -> OpsConfig:
    """``text`` of the ops.yaml at ``source``; relative paths written in it are taken from
    folder ``base`` (``load_config`` passes the file's folder). Defaults of keys left out
    (``ops-state.db``, ``runbooks``, ``slos``) stay relative to the working directory."""
    documents = parse_documents(text, source)
    if not documents:
        return OpsConfig(source=source)
    root = Node(documents[0], "", source).mapping(
        (
            "serve",
            "routes",
            "runbooks",
            "runbook",
            "runbook_base_url",
            "slos",
            "prometheus",
            "reports",
            "policies",
            "auto_diagnose",
            "notifier",
            "oncall",
            "slack",
            "alertmanager",
            "store",
        )
    )
    serve = ServeSettings()
    if root.has("serve"):
        node = root.child("serve").mapping(
            (
                "listen",
                "state",
                "messages",
                "pace_seconds",
                "max_age",
                "inbox_limit",
                "max_body",
                "read_timeout",
                "diagnose_queue",
                "max_connections",
                "max_connections_per_client",
                "diagnose_allowed_urls",
            )
        )
        host, port = parse_listen(
            node.text("listen", required=False) or "127.0.0.1:9095", node.child("listen")
        )
        serve = ServeSettings(
            host=host,
            port=port,
            state=_state_under(base, node.text("state", required=False) or "") or serve.state,
            messages=under(base, node.text("messages", required=False) or "") or serve.messages,
            pace_seconds=_duration(node, "pace_seconds", serve.pace_seconds),
            max_age=_duration(node, "max_age", serve.max_age),
            inbox_limit=_whole(node, "inbox_limit", serve.inbox_limit),
            max_body=_size(node.child("max_body"), serve.max_body),
            read_timeout=_duration(node, "read_timeout", serve.read_timeout),
            diagnose_queue=_whole(node, "diagnose_queue", serve.diagnose_queue, limit=10_000),
            diagnose_allowed_urls=_allowed_urls(node.child("diagnose_allowed_urls")),
            max_connections=_count(node, "max_connections"),
            max_connections_per_client=_count(node, "max_connections_per_client"),
        )
    store = StoreSettings()
    if root.has("store"):
        node = root.child("store").mapping(("busy_timeout",))
        store = StoreSettings(
            busy_timeout=_duration(node, "busy_timeout", store.busy_timeout, limit=3600)
        )
    slos_node = root.child("slos")
    if isinstance(slos_node.value, str):
        slos: tuple[str, ...] = (under(base, slos_node.value),)
    elif slos_node.value is None:
        slos = ("slos",)
    else:
        slos = tuple(under(base, str(n.value)) for n in slos_node.items())
    metrics_source = _source(root.child("prometheus"), base)
    routes = root.text("routes", required=False)
    oncall = root.text("oncall", required=False)
    runbooks = root.text("runbooks", required=False)
    base_url = root.text("runbook_base_url", required=False)
    if base_url and not base_url.startswith(("http://", "https://")):
        raise root.child("runbook_base_url").error(f"expected an http(s) URL, got {base_url!r}")
    return OpsConfig(
        source=source,
        audit_retention=_audit_retention(root.child("runbook")),
        reports=_reports(root.child("reports")),
        auto_diagnose=_flag(root.child("auto_diagnose")),
        allow=_allow(root.child("slack")),
        policies=_policies(root.child("policies")),
        serve=serve,
        store=store,
        routes=under(base, routes) if routes else None,
        oncall=under(base, oncall) if oncall else None,
        runbooks=under(base, runbooks) if runbooks else "runbooks",
        runbook_base_url=base_url,
        slos=slos,
        prometheus=metrics_source.url if metrics_source else None,
        prometheus_source=metrics_source,
        alertmanager=_url(root, "alertmanager"),
        notifier=_notifier(root.child("notifier")),
        written=frozenset(str(k) for k in documents[0] if root.child(str(k)).value is not None),
    )


def _source(node: Node, base: str = "") -> SourceSettings | None:
    """``prometheus:``: a URL, or a mapping with the URL, headers and one kind of credentials."""
    place = f"{node.source}: {node.path}"
    if node.value is None or isinstance(node.value, str):
        url = _url_value(node)
        return SourceSettings(url, place=place) if url else None
    node.mapping(
        ("url", "headers", "basic_auth", "bearer_token_env", "bearer_token_file", "max_answer")
    )
    url = _url_value(node.child("url"))
    if not url:
        raise node.child("url").error("is required")
    headers = _headers(node.child("headers"))
    username = password_env = password_file = None
    auth = node.child("basic_auth")
    if auth.value is not None:
        auth.mapping(("username", "password_env", "password_file"))
        username = auth.text("username")
        password_env, password_file = _one_of(auth, "password_env", "password_file")
        password_file = under(base, password_file) if password_file else None
    token_env = _env_name(node, "bearer_token_env")
    token_file = node.text("bearer_token_file", required=False) or None
    token_file = under(base, token_file) if token_file else None
    if token_env and token_file:
        raise node.error("give bearer_token_env or bearer_token_file, not both")
    if username is not None and (token_env or token_file):
        raise node.error("give basic_auth or a bearer token, not both")
    max_answer = node.child("max_answer")
    return SourceSettings(
        url,
        headers,
        username,
        password_env,
        password_file,
        token_env,
        token_file,
        place=place,
        max_answer=_size(max_answer, 0) if max_answer.value is not None else None,
    )


def _audit_retention(node: Node) -> float | None:
    """``runbook.audit_retention``: how old a finished run's audit lines may grow before
    ``ops runbook audit --prune`` removes them (a duration; None: no retention set)."""
    if node.value is None:
        return None
    node = node.mapping(("audit_retention",))
    child = node.child("audit_retention")
    if child.value is None:
        return None
    if not isinstance(child.value, str):  # a bare 90 is 90 seconds: a typo for 90d, surely
        raise child.error(f"expected a duration like 90d, got {shorten(repr(child.value))}")
    return positive_duration(child)


def _url_value(node: Node) -> str | None:
    value = node.value
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
        raise node.error(f"expected an http(s) URL, got {show(value)}")
    return value.strip()


def _headers(node: Node) -> dict[str, str]:
    if node.value is None:
        return {}
    if not isinstance(node.value, dict):
        raise node.error(f"expected a mapping of header names to values, got {show(node.value)}")
    headers = {}
    for name in node.value:
        child = node.child(str(name))
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise child.error("not a valid HTTP header name")
        if name.lower() in CREDENTIAL_HEADERS:
            raise child.error(
                "credentials do not belong in headers (the file would hold the secret): use "
                "basic_auth or bearer_token_env/bearer_token_file"
            )
        value = child.value
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise child.error(f"expected a string, got {show(value)}")
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in str(value)):
            raise child.error("a header value cannot hold a line break or control character")
        headers[name] = str(value)
    return headers


def _env_name(node: Node, key: str) -> str | None:
    name = node.text(key, required=False) or None
    if name is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise node.child(key).error(f"expected an environment variable name, got {name!r}")
    return name


def _one_of(node: Node, env_key: str, file_key: str) -> tuple[str | None, str | None]:
    env = _env_name(node, env_key)
    path = node.text(file_key, required=False) or None
    if bool(env) == bool(path):
        raise node.error(f"give one of {env_key} or {file_key}")
    return env, path


def _allowed_urls(node: Node) -> tuple[str, ...]:
    """``serve.diagnose_allowed_urls``: a list of http(s) URLs, kept without a trailing /."""
    if node.value is None:
        return ()
    urls = []
    for item in node.items():
        url = (_url_value(item) or "").rstrip("/")
        if not url.partition("://")[2] or any(c.isspace() for c in url):
            raise item.error(f"expected an http(s) URL with a host, got {show(item.value)}")
        urls.append(url)
    return tuple(urls)


def _url(root: Node, key: str) -> str | None:
    value = root.text(key, required=False)
    if value and not value.startswith(("http://", "https://")):
        raise root.child(key).error(f"expected an http(s) URL, got {value!r}")
    return value


def _allow(node: Node) -> dict[str, tuple[str, ...]]:
    if node.value is None:
        return {}
    node.mapping(("allow",))
    lists = node.child("allow")
    if lists.value is None:
        return {}
    lists.mapping(ALLOW_ACTIONS)
    allow: dict[str, tuple[str, ...]] = {}
    for action in lists.value:
        users = []
        for item in lists.child(str(action)).items():
            if not isinstance(item.value, str) or not ALLOWED_USER.match(item.value):
                raise item.error(
                    f"expected a Slack user id (U0123ABCD) or 'oncall', got {item.value!r}"
                )
            users.append(item.value)
        allow[str(action)] = tuple(users)
    return allow


def _notifier(node: Node) -> str | None:
    """``notifier: console`` asks for the console on purpose (``--post`` then needs no token)."""
    if node.value is None:
        return None
    if node.value not in ("console", "slack"):
        raise node.error(f"expected console or slack, got {show(node.value)}")
    return str(node.value)


def _size(node: Node, default: int) -> int:
    value = node.value
    if value is None:
        return default
    if isinstance(value, bool | float):
        raise node.error(
            f"must be a whole number of bytes or a size like 32MiB, got {str(value).lower()}"
        )
    if not isinstance(value, int | str):
        raise node.error(f"expected a size like 32MiB or 2000000, got {show(value)}")
    try:
        return parse_size(str(value))
    except ValueError as exc:
        raise node.error(str(exc)) from None


def _flag(node: Node) -> bool:
    if node.value is None:
        return False
    if not isinstance(node.value, bool):
        raise node.error(f"expected true or false, got {show(node.value)}")
    return node.value


def _strings(node: Node) -> tuple[str, ...]:
    if node.value is None:
        return ()
    if isinstance(node.value, str):
        return (node.value,)
    return tuple(str(item.value) for item in node.items())


def _channel(node: Node, key: str) -> str:
    from ops_toolkit.notify.model import CHANNEL

    value = node.text(key)
    assert value is not None
    if not CHANNEL.match(value):
        raise node.child(key).error(
            f"expected a channel like #search or an id like C0123ABCD, got {value!r}"
        )
    return value


def _reports(node: Node) -> tuple[ReportSchedule, ...]:
    if node.value is None:
        return ()
    from croniter import croniter

    reports = []
    names: set[str] = set()
    for item in node.items():
        item.mapping(("name", "cron", "timezone", "slos", "channel", "chart"))
        name = item.text("name")
        assert name is not None
        if name in names:
            raise item.child("name").error(f"duplicate report name {name!r}")
        names.add(name)
        cron = item.text("cron")
        assert cron is not None
        if not croniter.is_valid(cron):
            raise item.child("cron").error(f"not a cron expression: {cron!r} (e.g. '0 9 * * MON')")
        timezone = item.text("timezone", required=False) or "UTC"
        check_timezone(item.child("timezone"), timezone)
        chart = item.child("chart").value
        if chart is not None and not isinstance(chart, bool):
            raise item.child("chart").error("expected true or false")
        reports.append(
            ReportSchedule(
                name,
                cron,
                timezone,
                _strings(item.child("slos")) or ("slos",),
                _channel(item, "channel"),
                bool(chart),
            )
        )
    return tuple(reports)


def _budget_percent(node: Node) -> float:
    """A budget amount in the one grammar (``25%`` or ``0.25``), kept in percent here."""
    from ops_toolkit.amounts import parse_budget_amount

    try:
        # rounded: '58%' is 0.58, and 0.58 * 100 is 57.99999999999999, which would not
        # match the threshold 58.0 the store keeps its armed state under
        return round(parse_budget_amount(node.value) * 100, 9)
    except ValueError as exc:
        raise node.error(str(exc)) from None


def _policies(node: Node) -> tuple[Policy, ...]:
    if node.value is None:
        return ()
    policies = []
    for item in node.items():
        item.mapping(("slos", "thresholds", "channel", "mention", "hysteresis", "gate"))
        thresholds_node = item.child("thresholds")
        thresholds = (
            tuple(_budget_percent(n) for n in thresholds_node.items())
            if thresholds_node.value is not None
            else (50.0, 25.0, 0.0)
        )
        # an amount of budget like the thresholds it re-arms above: '5%' or 0.05 (a bare 5 was
        # read as 5 points while 'thresholds: [0.5]' meant 50%)
        hysteresis = _budget_percent(item.child("hysteresis")) if item.has("hysteresis") else 5.0
        gate = _budget_percent(item.child("gate")) if item.has("gate") else None
        policies.append(
            Policy(
                _strings(item.child("slos")) or ("*",),
                tuple(sorted(thresholds, reverse=True)),
                _channel(item, "channel"),
                item.text("mention", required=False),
                hysteresis,
                gate,
            )
        )
    return tuple(policies)


def oncall_path(config: OpsConfig) -> str | None:
    """The on-call file: ``oncall:`` in ops.yaml, else ``alerts/oncall.yaml`` when present."""
    if config.oncall is not None:
        return config.oncall
    return "alerts/oncall.yaml" if os.path.exists("alerts/oncall.yaml") else None


def credential_variables(config: OpsConfig, oncall: OncallConfig | None) -> frozenset[str]:
    """Every variable ops's configuration reads a credential from, in one set: ops.yaml's
    metrics source (its token and password variables) and the on-call file's
    ``routing_key_env``. No step gets them (at the CLI, in ``ops serve``), their values are
    masked, and a runbook naming one in ``env:`` or ``secrets:`` is a lint error."""
    from_metrics = config.prometheus_source.secret_env_names() if config.prometheus_source else ()
    return frozenset(from_metrics) | (oncall.credential_variables() if oncall else frozenset())


def configured_credential_variables(config: OpsConfig) -> frozenset[str]:
    """``credential_variables`` with the on-call file ``config`` names, as ``ops runbook run``
    and ``ops check`` read them: a broken on-call file adds none (its error is reported where
    it is checked: ``ops check``, ``ops serve``), as the person's shell holds them anyway."""
    from ops_toolkit.errors import OpsError

    path = oncall_path(config)
    if not path:  # the on-call reader (12 ms of imports) only where there is a file to read
        return credential_variables(config, None)
    from ops_toolkit.escalate.oncall import load_oncall

    try:
        oncall = load_oncall(path)
    except OpsError:
        oncall = None
    return credential_variables(config, oncall)


PLACEHOLDER = "change-me"


def refuse_placeholder(name: str, value: str) -> None:
    """deploy/'s examples hold ``change-me`` values; one left in place is a secret everyone
    who read the examples knows (a webhook token, or a signing secret that lets anyone
    press the buttons)."""
    if PLACEHOLDER in value.lower():
        raise ConfigError(
            f"{name} still holds the placeholder {PLACEHOLDER!r} from deploy/'s examples: "
            "set the real value"
        )


def load_config(path: str | None) -> OpsConfig:
    """``path`` if given (it must exist), else ``ops.yaml`` when present, else defaults."""
    if path is None:
        if not os.path.exists("ops.yaml"):
            return OpsConfig()
        path = "ops.yaml"
    elif not os.path.exists(path):
        raise ConfigError(
            f"{path}: no such file; write one (README, 'ops.yaml'; deploy/kubernetes/configmap.yaml "
            "has a complete example) or leave out --config to run on the defaults"
        )
    base = os.path.dirname(path)
    config = parse_config(read_text(path), path, base)
    return _report_paths_under(config, base)


def _report_paths_under(config: OpsConfig, base: str) -> OpsConfig:
    """A report's ``slos:`` holds paths and ``service/slo`` selectors alike: an entry is
    taken from the file's folder when a file or folder is there by that name."""
    import dataclasses

    if not base or not config.reports:
        return config

    def entry(value: str) -> str:
        beside = under(base, value)
        return beside if beside != value and os.path.exists(beside) else value

    reports = tuple(
        dataclasses.replace(r, slos=tuple(entry(s) for s in r.slos)) for r in config.reports
    )
    return dataclasses.replace(config, reports=reports)
