"""``ops serve`` as a real process for the tests: one helper for a single server
(tests/integration/test_serve.py) and for HA replicas on a shared store (test_ha.py).

Started, SIGKILLed and stopped by its own pid, never by name.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Self

from ops_toolkit.demo.servers import free_port, stop_process, wait_ready
from tests.conftest import ROOT


class ServeProcess:
    """``ops serve --config CONFIG`` on a free loopback port, its output in ``log``.

    ``config``, ``env`` and ``cwd`` may be changed until ``start``/``launch``.
    """

    def __init__(self, config: Path, env: dict[str, str], log: Path, token: str) -> None:
        self.port = free_port()
        self.config = config
        self.env = env
        self.log = log
        self.token = token
        self.cwd = ROOT  # where alerts/oncall.yaml is found when ops.yaml names none
        self.process: subprocess.Popen[bytes] | None = None
        # (soft, hard) RLIMIT_NOFILE of the server process, as systemd's LimitNOFILE= sets it
        self.open_files: tuple[int, int] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.launch()
        return self.ready()

    def launch(self) -> None:
        """Start the process without waiting: replicas launched together race their first
        rounds."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ops_toolkit",
                    "serve",
                    "--config",
                    str(self.config),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                preexec_fn=self._limit_open_files if self.open_files else None,
            )

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, self.open_files)

    def ready(self) -> Self:
        assert self.process is not None
        wait_ready(f"{self.url}/healthz", self.process, 30, str(self.log))
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)  # SIGKILL if SIGTERM is not enough: nothing outlives

    def post(
        self,
        body: bytes | dict[str, Any],
        token: str | Literal[True] | None = True,
        scheme: str = "Bearer",
    ) -> tuple[int, dict[str, Any]]:
        """POST /alertmanager with the server's token (``True``), another, or none."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = f"{scheme} {self.token if token is True else token}"
        request = urllib.request.Request(
            f"{self.url}/alertmanager", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise AssertionError(f"{name} not in {self.url}/metrics")

    def health(self, token: str | None = None) -> tuple[int, dict[str, Any]]:
        """GET /healthz, anonymous or with a bearer token (which shows a failure's detail)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(f"{self.url}/healthz", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


def eventually(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Wait for ``check`` (a condition, not a timing: the timeout only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    assert check(), what
