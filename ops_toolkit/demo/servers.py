"""Real Prometheus (and later Alertmanager) processes on loopback ports, for the demo and tests.

Each server is started from the Debian package's binary with its own data directory and is
stopped by the pid we started; nothing else is touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run 'make system-deps' (Debian packages prometheus, "
            "prometheus-alertmanager)"
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

    def launch(self, binary: str, arguments: list[str], name: str, timeout: float) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        log_path = os.path.join(self.workdir, f"{name}.log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [require_binary(binary), *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_ready(f"{self.url}/-/ready", self.process, timeout, log_path)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
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
    ) -> None:
        self.workdir = workdir
        self.tsdb_dir = tsdb_dir
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
                "--storage.tsdb.retention.time=3650d",
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
    process.terminate()
    raise RuntimeError(f"server at {url} was not ready within {timeout:g}s")


class AlertmanagerServer(LocalServer):
    """``prometheus-alertmanager`` on 127.0.0.1, clustering off, one webhook receiver."""

    def __init__(
        self,
        workdir: str,
        webhook_url: str,
        token: str | None,
        *,
        port: int | None = None,
        group_wait: str = "1s",
        group_interval: str = "2s",
    ) -> None:
        self.workdir = workdir
        self.webhook_url = webhook_url
        self.token = token
        self.port = port or free_port()
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.process = None

    def start(self, timeout: float = 30.0) -> AlertmanagerServer:

        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "alertmanager.yml")
        auth = (
            f"        http_config:\n          authorization:\n            credentials: {self.token}\n"
            if self.token
            else ""
        )
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "route:\n"
                "  receiver: ops\n"
                "  group_by: [alertname, service, slo]\n"
                f"  group_wait: {self.group_wait}\n"
                f"  group_interval: {self.group_interval}\n"
                "  repeat_interval: 4h\n"
                "receivers:\n"
                "  - name: ops\n"
                "    webhook_configs:\n"
                f"      - url: {self.webhook_url}\n"
                "        send_resolved: true\n"
                f"{auth}"
            )
        self.launch(
            "prometheus-alertmanager",
            [
                f"--config.file={config}",
                f"--storage.path={os.path.join(self.workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.url}",
                "--cluster.listen-address=",
            ],
            "alertmanager",
            timeout,
        )
        return self

    def fire(
        self, labels: dict[str, str], annotations: dict[str, str], *, resolved: bool = False
    ) -> None:
        """Post one alert to the v2 API (with an end time in the past to resolve it)."""
        import json
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        alert: dict[str, object] = {
            "labels": labels,
            "annotations": annotations,
            "generatorURL": "http://127.0.0.1:9090/graph",
        }
        if resolved:
            alert["startsAt"] = (now - timedelta(minutes=10)).isoformat()
            alert["endsAt"] = (now - timedelta(seconds=1)).isoformat()
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps([alert]).encode(),
            method="POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
