"""Real Prometheus, Alertmanager and VictoriaMetrics processes on loopback ports, for the demo
and tests.

Each server is started from the Debian package's binary with its own data directory and is
stopped by the pid we started; nothing else is touched.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any


def free_port() -> int:
    """A loopback port free for TCP and UDP now, chosen below the kernel's ephemeral range.

    A port the kernel hands out for ``bind(0)`` is ephemeral: between this check and the
    server's own bind, any outgoing connection on the machine may take it (Alertmanager's
    gossip once failed so: "address already in use"). Outgoing connections never take a
    port below the range; gossip needs UDP too.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if _bindable(port, socket.SOCK_STREAM) and _bindable(port, socket.SOCK_DGRAM):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run 'make system-deps' (Debian packages prometheus, "
            "prometheus-alertmanager, victoria-metrics)"
        )
    return path


class LocalServer:
    """A server binary we start on loopback, watch through its log, and stop by its pid."""

    workdir: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(
        self,
        binary: str,
        arguments: list[str],
        name: str,
        timeout: float,
        ready_path: str = "/-/ready",
    ) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        log_path = os.path.join(self.workdir, f"{name}.log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [require_binary(binary), *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_ready(f"{self.url}{ready_path}", self.process, timeout, log_path)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None


class PrometheusServer(LocalServer):
    """``prometheus`` on 127.0.0.1 with a given TSDB directory and rule files."""

    def __init__(
        self,
        workdir: str,
        tsdb_dir: str,
        *,
        rule_files: Sequence[str] = (),
        evaluation_interval: str = "1m",
        port: int | None = None,
        retention: str = "3650d",
    ) -> None:
        """``retention``: ``--storage.tsdb.retention.time``; long by default, so backfilled
        history stays whatever its age."""
        self.workdir = workdir
        self.tsdb_dir = tsdb_dir
        self.retention = retention
        self.rule_files = list(rule_files)
        self.evaluation_interval = evaluation_interval
        self.port = port or free_port()
        self.process = None

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(f"global:\n  evaluation_interval: {self.evaluation_interval}\n")
            if self.rule_files:
                handle.write("rule_files:\n")
                handle.writelines(f"  - {os.path.abspath(p)}\n" for p in self.rule_files)
            handle.write("scrape_configs: []\n")
        self.launch(
            "prometheus",
            [
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tsdb_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.retention.time={self.retention}",
                "--web.enable-lifecycle",
            ],
            "prometheus",
            timeout,
        )
        return self


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float, log: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = open(log, encoding="utf-8", errors="replace").read()[-2000:]  # noqa: SIM115
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    stop_process(process)  # before: terminated, never waited for (a zombie, or still running)
    raise RuntimeError(f"server at {url} was not ready within {timeout:g}s")


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM, SIGKILL after ``grace`` seconds, and wait: nothing left, not even a zombie."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


class AlertmanagerServer(LocalServer):
    """``prometheus-alertmanager`` on 127.0.0.1 with one webhook receiver.

    ``webhook_url`` may name several URLs: the receiver then has one webhook_config per URL,
    as an HA setup points one receiver at every ``ops serve`` replica. Clustering is off
    unless ``cluster_port`` is given (see ``AlertmanagerCluster``).
    """

    def __init__(
        self,
        workdir: str,
        webhook_url: str | Sequence[str],
        token: str | None,
        *,
        port: int | None = None,
        group_wait: str = "1s",
        group_interval: str = "2s",
        cluster_port: int | None = None,
        peers: Sequence[int] = (),
        peer_timeout: str = "100ms",
    ) -> None:
        self.workdir = workdir
        self.webhook_urls = [webhook_url] if isinstance(webhook_url, str) else list(webhook_url)
        self.token = token
        self.port = port or free_port()
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.cluster_port = cluster_port
        self.peers = list(peers)
        self.peer_timeout = peer_timeout
        self.process = None

    @property
    def webhook_url(self) -> str:
        return self.webhook_urls[0]

    def configuration(self) -> str:
        """The alertmanager.yml: one route, one receiver with a webhook per URL."""
        auth = (
            f"        http_config:\n          authorization:\n            credentials: {self.token}\n"
            if self.token
            else ""
        )
        webhooks = "".join(
            f"      - url: {url}\n        send_resolved: true\n{auth}" for url in self.webhook_urls
        )
        return (
            "route:\n"
            "  receiver: ops\n"
            "  group_by: [alertname, service, slo]\n"
            f"  group_wait: {self.group_wait}\n"
            f"  group_interval: {self.group_interval}\n"
            "  repeat_interval: 4h\n"
            "receivers:\n"
            "  - name: ops\n"
            "    webhook_configs:\n"
            f"{webhooks}"
        )

    def cluster_arguments(self) -> list[str]:
        """Clustering off, or on 127.0.0.1 with intervals short enough to settle in seconds."""
        if self.cluster_port is None:
            return ["--cluster.listen-address="]
        address = f"127.0.0.1:{self.cluster_port}"
        return [
            f"--cluster.listen-address={address}",
            f"--cluster.advertise-address={address}",
            *(f"--cluster.peer=127.0.0.1:{peer}" for peer in self.peers),
            "--cluster.gossip-interval=50ms",
            "--cluster.pushpull-interval=1s",
            "--cluster.probe-interval=200ms",
            "--cluster.probe-timeout=100ms",
            "--cluster.reconnect-interval=1s",
            "--cluster.settle-timeout=10s",
            f"--cluster.peer-timeout={self.peer_timeout}",
        ]

    def start(self, timeout: float = 30.0) -> AlertmanagerServer:
        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "alertmanager.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(self.configuration())
        self.launch(
            "prometheus-alertmanager",
            [
                f"--config.file={config}",
                f"--storage.path={os.path.join(self.workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.url}",
                *self.cluster_arguments(),
            ],
            "alertmanager",
            timeout,
        )
        return self

    def status(self) -> dict[str, Any]:
        """``GET /api/v2/status``: the cluster's members and whether it settled."""
        with urllib.request.urlopen(f"{self.url}/api/v2/status", timeout=5) as response:
            document: dict[str, Any] = json.load(response)
        return document

    def fire(
        self,
        labels: dict[str, str],
        annotations: dict[str, str],
        *,
        resolved: bool = False,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        generator_url: str | None = None,
    ) -> None:
        """Post one alert to the v2 API (with an end time in the past to resolve it).

        ``starts_at``/``ends_at`` pin the times, as Prometheus does when it sends one alert to
        several Alertmanagers; without them the Alertmanager stamps its own receipt time.
        ``generator_url``: the Prometheus graph the alert links to (as Prometheus sets it);
        without one the alert has no link (a made-up address pointed nowhere).
        """
        now = datetime.now(UTC)
        alert: dict[str, object] = {"labels": labels, "annotations": annotations}
        if generator_url is not None:
            alert["generatorURL"] = generator_url
        if resolved:
            starts_at = starts_at or now - timedelta(minutes=10)
            ends_at = ends_at or now - timedelta(seconds=1)
        if starts_at is not None:
            alert["startsAt"] = starts_at.isoformat()
        if ends_at is not None:
            alert["endsAt"] = ends_at.isoformat()
        post_alerts(self.url, [alert])


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """``POST /api/v2/alerts`` to the Alertmanager at ``url``, as Prometheus sends them."""
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def graph_link(prometheus_url: str, alertname: str) -> str:
    """The alert's graph on ``prometheus_url``, as Prometheus sets an alert's generatorURL."""
    query = {"g0.expr": f'ALERTS{{alertname="{alertname}"}}', "g0.tab": "1"}
    return f"{prometheus_url.rstrip('/')}/graph?{urllib.parse.urlencode(query)}"


class AlertmanagerCluster:
    """Alertmanagers peered in one cluster on loopback, as a team runs them for HA.

    Every member has the same receiver (one webhook per ``ops serve`` replica), and each
    member sends each notification unless the notification log gossiped from a peer says it
    went out already: so ``ops serve`` sees the same notification from several members, and
    from each to every replica, and must act on it once.
    """

    def __init__(
        self,
        workdir: str,
        webhook_urls: Sequence[str],
        token: str | None,
        *,
        size: int = 2,
        group_wait: str = "1s",
        group_interval: str = "2s",
        peer_timeout: str = "100ms",
    ) -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.members = [
            AlertmanagerServer(
                os.path.join(workdir, f"am{index}"),
                webhook_urls,
                token,
                group_wait=group_wait,
                group_interval=group_interval,
                cluster_port=port,
                peers=[p for p in cluster_ports if p != port],
                peer_timeout=peer_timeout,
            )
            for index, port in enumerate(cluster_ports)
        ]

    def start(self, timeout: float = 30.0) -> AlertmanagerCluster:
        """Start every member, then wait until each sees all of them and has settled."""
        try:
            for member in self.members:
                member.start(timeout)
            self.wait_settled(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_settled(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        statuses: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            statuses = [member.status().get("cluster", {}) for member in self.members]
            if all(
                s.get("status") == "ready" and len(s.get("peers") or []) == len(self.members)
                for s in statuses
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"the Alertmanager cluster did not settle within {timeout:g}s: "
            + "; ".join(
                f"{m.url}: {s.get('status')} with {len(s.get('peers') or [])} peers"
                for m, s in zip(self.members, statuses, strict=True)
            )
        )

    def fire(
        self,
        labels: dict[str, str],
        annotations: dict[str, str],
        *,
        starts_at: datetime,
        resolved: bool = False,
    ) -> None:
        """Post the alert to every member with the same times, as Prometheus sends one alert
        to every Alertmanager (an alert's start is part of its identity: see event keys)."""
        ends_at = datetime.now(UTC) - timedelta(seconds=1) if resolved else None
        for member in self.members:
            member.fire(labels, annotations, starts_at=starts_at, ends_at=ends_at)

    def stop(self) -> None:
        for member in self.members:
            member.stop()


class VictoriaMetricsServer(LocalServer):
    """``victoria-metrics`` (single node, Debian package) on 127.0.0.1 with its own data dir.

    Run from the binary, never the package's service (which would take port 8428). The flags
    make a test see what it wrote at the time it asks about: retention long enough for any
    generated history, no response cache while backfilling, and no ``-search.latencyOffset``
    (by default VictoriaMetrics answers a query for "now" as of 30 s ago).
    """

    def __init__(
        self,
        workdir: str,
        *,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        latency_offset: str | None = "0s",
    ) -> None:
        """``latency_offset``: ``-search.latencyOffset`` (None: VictoriaMetrics' 30 s)."""
        self.workdir = workdir
        self.port = port or free_port()
        self.username = username
        self.password = password
        self.latency_offset = latency_offset
        self.process = None

    def start(self, timeout: float = 60.0) -> VictoriaMetricsServer:
        auth = (
            [f"-httpAuth.username={self.username}", f"-httpAuth.password={self.password or ''}"]
            if self.username
            else []
        )
        self.launch(
            "victoria-metrics",
            [
                f"-storageDataPath={os.path.join(self.workdir, 'data')}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.disableCache",
                "-loggerLevel=WARN",
                *auth,
                *([f"-search.latencyOffset={self.latency_offset}"] if self.latency_offset else []),
            ],
            "victoria-metrics",
            timeout,
            ready_path="/health",
        )
        return self

    def import_prometheus(self, text_files: Sequence[str]) -> None:
        """Load Prometheus text exposition lines with millisecond timestamps, then flush, so
        the next query sees every sample."""
        for path in text_files:
            with open(path, "rb") as handle:
                self._post("/api/v1/import/prometheus", handle.read())
        self.flush()

    def flush(self) -> None:
        """Make every sample received so far searchable now (not within about a second)."""
        self._post("/internal/force_flush", None, method="GET")

    def _post(self, path: str, body: bytes | None, method: str = "POST") -> None:
        import base64

        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method)
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        with urllib.request.urlopen(request, timeout=120):
            pass


class VmalertServer(LocalServer):
    """``vmalert`` evaluating rule files against a datasource and writing the recorded series
    back through remote write (``-remoteWrite.url``), on a short evaluation interval."""

    def __init__(
        self,
        workdir: str,
        rule_files: Sequence[str],
        datasource_url: str,
        *,
        evaluation_interval: str = "1s",
        port: int | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.rule_files = list(rule_files)
        self.datasource_url = datasource_url
        self.evaluation_interval = evaluation_interval
        self.port = port or free_port()
        self.extra = list(extra)
        self.process = None

    def start(self, timeout: float = 60.0) -> VmalertServer:
        self.launch(
            "vmalert",
            [
                *(f"-rule={os.path.abspath(path)}" for path in self.rule_files),
                f"-datasource.url={self.datasource_url}",
                f"-remoteWrite.url={self.datasource_url}",
                f"-evaluationInterval={self.evaluation_interval}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-remoteWrite.flushInterval=100ms",
                *self.extra,
            ],
            "vmalert",
            timeout,
            ready_path="/health",
        )
        return self


def vmalert_dry_run(rule_files: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``vmalert -dryRun``: parse and check the rule files (MetricsQL syntax, templates) without
    a datasource; exit status 0 when vmalert would load them."""
    return subprocess.run(
        [
            require_binary("vmalert"),
            "-dryRun",
            *(f"-rule={os.path.abspath(path)}" for path in rule_files),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def vmalert_replay(
    rule_files: Sequence[str], url: str, start: int, end: int, interval: str
) -> subprocess.CompletedProcess[str]:
    """``vmalert -replay.*``: evaluate the rules over history from ``start`` to ``end`` (unix
    seconds) every ``interval`` against ``url``, and write what they record back to it. Like
    ``promtool tsdb create-blocks-from rules``; groups run one after the other, so a group
    may use what an earlier file's groups recorded once VictoriaMetrics has flushed them."""
    from datetime import UTC, datetime

    def rfc3339(moment: int) -> str:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return subprocess.run(
        [
            require_binary("vmalert"),
            *(f"-rule={os.path.abspath(path)}" for path in rule_files),
            f"-datasource.url={url}",
            f"-remoteWrite.url={url}",
            f"-replay.timeFrom={rfc3339(start)}",
            f"-replay.timeTo={rfc3339(end)}",
            f"-evaluationInterval={interval}",
            "-replay.disableProgressBar",
            "-replay.rulesDelay=0s",  # a group's rules read raw series, not each other
            "-httpListenAddr=127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
