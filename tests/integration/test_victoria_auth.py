"""Authenticated and multi-tenant metrics sources, against real servers that check them:
VictoriaMetrics with ``-httpAuth.*`` (basic auth), vmauth (bearer tokens, Debian's
``victoria-metrics`` package) and a loopback reverse proxy that demands ``X-Scope-OrgID``
as Mimir and Cortex do. Configured in ops.yaml; the secrets are read from the environment
or a file, masked in all ops prints and never given to a runbook step."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.data import load_victoria_metrics
from ops_toolkit.demo.servers import LocalServer, VictoriaMetricsServer, free_port
from tests.alerts.payloads import notification
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus, LoadedVictoriaMetrics
from tests.integration.test_serve import OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

PASSWORD = "vm-s3cret-pass"
TOKEN = "tok-0123456789"


@pytest.fixture(scope="module")
def guarded_victoria(
    worked_prometheus: LoadedPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VictoriaMetricsServer]:
    """VictoriaMetrics that answers only user ``ops`` with ``PASSWORD``; the worked example."""
    base = tmp_path_factory.mktemp("guarded")
    server = VictoriaMetricsServer(str(base / "vm"), username="ops", password=PASSWORD).start()
    try:
        load_victoria_metrics(worked_prometheus.dataset, server, str(base / "import"))
        yield server
    finally:
        server.stop()


def report(
    tmp_path: Path, source: dict[str, Any], at: int, env: dict[str, str] | None = None
) -> Any:
    config = tmp_path / "ops.yaml"
    config.write_text(json.dumps({"prometheus": source}))  # JSON is YAML
    return CliRunner().invoke(
        main,
        [
            "slo",
            "report",
            str(ROOT / "slos"),
            "--config",
            str(config),
            "--at",
            str(at),
            "-o",
            "json",
        ],
        env=env or {},
    )


def test_basic_auth_from_the_environment_gives_the_same_budgets(
    tmp_path: Path, guarded_victoria: VictoriaMetricsServer, worked_victoria: LoadedVictoriaMetrics
) -> None:
    source = {
        "url": guarded_victoria.url,
        "basic_auth": {"username": "ops", "password_env": "VM_PASSWORD"},
    }
    result = report(tmp_path, source, worked_victoria.end, {"VM_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    open_result = CliRunner().invoke(
        main,
        [
            "slo",
            "report",
            str(ROOT / "slos"),
            "--prometheus",
            worked_victoria.url,
            "--at",
            str(worked_victoria.end),
            "-o",
            "json",
        ],
    )
    assert json.loads(result.stdout) == json.loads(open_result.stdout)


def test_a_wrong_password_is_a_401_that_names_the_source(
    tmp_path: Path, guarded_victoria: VictoriaMetricsServer
) -> None:
    source = {
        "url": guarded_victoria.url,
        "basic_auth": {"username": "ops", "password_env": "VM_PASSWORD"},
    }
    result = report(tmp_path, source, 1794819600, {"VM_PASSWORD": "not-the-password"})
    assert result.exit_code == 1
    assert result.output.endswith(
        f"failed: Prometheus at {guarded_victoria.url} ({tmp_path}/ops.yaml: prometheus) refused the "
        "credentials: HTTP 401 Unauthorized\n"
    ), result.output
    assert result.output.startswith("Error: search/")
    unset = report(tmp_path, source, 1794819600, {})
    assert unset.output == (
        f"Error: {tmp_path}/ops.yaml: prometheus.basic_auth.password_env: VM_PASSWORD is not set\n"
    )
    anonymous = report(tmp_path, {"url": guarded_victoria.url}, 1794819600)
    assert anonymous.exit_code == 1
    assert anonymous.output.endswith(
        f"failed: Prometheus at {guarded_victoria.url} ({tmp_path}/ops.yaml: prometheus) wants "
        "credentials: HTTP 401 Unauthorized (set headers, basic_auth or bearer_token_env "
        "under prometheus: in ops.yaml)\n"
    ), anonymous.output


class TenantProxy:
    """Mimir's front door in miniature: no ``X-Scope-OrgID`` is 401 "no org id", a tenant
    other than ``search`` is 403; otherwise the request goes on to ``upstream`` unchanged."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[str | None] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                tenant = self.headers.get("X-Scope-OrgID")
                proxy.seen.append(tenant)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if tenant is None:
                    return self.answer(401, b"no org id\n", "text/plain")
                if tenant != "search":
                    return self.answer(403, f"tenant {tenant!r} may not read\n".encode(), "")
                request = urllib.request.Request(
                    upstream + self.path,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        self.answer(answer.status, answer.read(), "application/json")
                except urllib.error.HTTPError as error:
                    self.answer(error.code, error.read(), "application/json")

            def answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tenant_proxy(worked_victoria: LoadedVictoriaMetrics) -> Iterator[TenantProxy]:
    proxy = TenantProxy(worked_victoria.url)
    try:
        yield proxy
    finally:
        proxy.close()


def test_the_tenant_header_reaches_a_multi_tenant_front_door(
    tmp_path: Path, tenant_proxy: TenantProxy, worked_victoria: LoadedVictoriaMetrics
) -> None:
    at = worked_victoria.end
    source = {"url": tenant_proxy.url, "headers": {"X-Scope-OrgID": "search"}}
    result = report(tmp_path, source, at)
    assert result.exit_code == 0, result.output
    assert {d["slo"]: d["status"] for d in json.loads(result.stdout)}["availability"] == "critical"
    assert set(tenant_proxy.seen) == {"search"}
    other = report(tmp_path, {"url": tenant_proxy.url, "headers": {"X-Scope-OrgID": "ads"}}, at)
    assert other.exit_code == 1
    assert other.output.endswith(
        f"failed: Prometheus at {tenant_proxy.url} ({tmp_path}/ops.yaml: prometheus) forbids "
        "the query: "
        "HTTP 403 Forbidden: tenant 'ads' may not read\n"
    ), other.output
    missing = report(tmp_path, {"url": tenant_proxy.url}, at)
    assert missing.output.endswith(
        f"failed: Prometheus at {tenant_proxy.url} ({tmp_path}/ops.yaml: prometheus) wants "
        "credentials: "
        "HTTP 401 Unauthorized: no org id (set headers, basic_auth or bearer_token_env under "
        "prometheus: in ops.yaml)\n"
    ), missing.output


class Vmauth(LocalServer):
    """vmauth in front of ``upstream``: one user, known by its bearer token."""

    def __init__(self, workdir: str, upstream: str, upstream_auth: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.upstream = upstream
        self.upstream_auth = upstream_auth
        self.process = None

    def start(self) -> Vmauth:
        config = Path(self.workdir) / "auth.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "users:\n"
            f'  - bearer_token: "{TOKEN}"\n'
            f'    url_prefix: "{self.upstream}"\n'
            f'    headers: ["Authorization: {self.upstream_auth}"]\n'
        )
        self.launch(
            "vmauth",
            [f"-auth.config={config}", f"-httpListenAddr=127.0.0.1:{self.port}"],
            "vmauth",
            30.0,
            ready_path="/health",
        )
        return self


@pytest.fixture
def vmauth(tmp_path: Path, guarded_victoria: VictoriaMetricsServer) -> Iterator[Vmauth]:
    import base64

    basic = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    server = Vmauth(str(tmp_path / "vmauth"), guarded_victoria.url, basic).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_bearer_token_from_a_file_and_a_wrong_one_never_printed(
    tmp_path: Path, vmauth: Vmauth, worked_victoria: LoadedVictoriaMetrics
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    at = worked_victoria.end
    result = report(tmp_path, {"url": vmauth.url, "bearer_token_file": str(token_file)}, at)
    assert result.exit_code == 0, result.output
    assert {d["slo"] for d in json.loads(result.stdout)} >= {"availability", "answer-latency"}
    # vmauth answers an unknown token with a 400 that quotes it: ops prints it masked.
    wrong = report(tmp_path, {"url": vmauth.url, "bearer_token_env": "T"}, at, {"T": "guess-1"})
    assert wrong.exit_code == 1
    assert "guess-1" not in wrong.output
    assert wrong.output.endswith(
        f"failed: Prometheus at {vmauth.url} answered HTTP 400 with a body that is not JSON "
        "(text/plain): 'cannot find the provided auth token \"***\" in config'\n"
    ), wrong.output


def test_a_runbook_queries_with_the_credentials_its_steps_never_see(
    tmp_path: Path,
    guarded_victoria: VictoriaMetricsServer,
    monkeypatch: pytest.MonkeyPatch,
    worked_victoria: LoadedVictoriaMetrics,
) -> None:
    (tmp_path / "ops.yaml").write_text(
        json.dumps(
            {
                "prometheus": {
                    "url": guarded_victoria.url,
                    "basic_auth": {"username": "ops", "password_env": "VM_PASSWORD"},
                }
            }
        )
    )
    fence = "```"
    (tmp_path / "check.md").write_text(
        "---\ntitle: Check\nowner: o\n---\n# Check\n\n"
        f'{fence}promql {{"name":"series"}}\n'
        f"count(http_requests_total @ {worked_victoria.end})\n{fence}\n\n"
        f'{fence}sh {{"name":"peek"}}\n'
        'echo "password=${VM_PASSWORD:-unset}"\n'
        f"echo {PASSWORD}\n{fence}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["runbook", "run", "check.md", "--json", "--non-interactive", "--state-dir", "state"],
        env={"VM_PASSWORD": PASSWORD, "OPS_PROMETHEUS_URL": None},
    )
    assert result.exit_code == 0, result.output
    steps = {step["name"]: step for step in json.loads(result.stdout)["steps"]}
    assert steps["series"]["output"] == "{}  2\n"
    assert steps["peek"]["output"] == "password=unset\n***\n"
    assert PASSWORD not in result.output
    assert PASSWORD not in (tmp_path / "state" / "audit.jsonl").read_text()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


def test_ops_serve_diagnoses_through_the_authenticated_source(
    tmp_path: Path, slack: SlackServer, guarded_victoria: VictoriaMetricsServer
) -> None:
    """An alert's diagnose run queries VictoriaMetrics with ops.yaml's basic auth; the reply
    in Slack never holds the password."""
    extra = (
        "auto_diagnose: true\n"
        "prometheus:\n"
        f"  url: {guarded_victoria.url}\n"
        "  basic_auth: {username: ops, password_env: VM_PASSWORD}\n"
    )
    server = OpsServer(tmp_path, slack, extra)
    server.env["VM_PASSWORD"] = PASSWORD
    server.start()
    try:
        assert server.post(notification())[0] == 200

        def replies() -> list[dict[str, Any]]:
            return [m for m in slack.state.posts("search-oncall") if m.get("thread_ts")]

        eventually(lambda: len(replies()) == 1, timeout=90)
        body = json.dumps(replies()[0]["blocks"])
        assert "*error-ratio* succeeded" in body, body
        assert PASSWORD not in json.dumps(slack.state.posts("search-oncall"))
    finally:
        server.stop()
    del server.env["VM_PASSWORD"]
    refused = subprocess.run(
        [sys.executable, "-m", "ops_toolkit", "serve", "--config", str(server.config)],
        env=server.env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: {server.config}: prometheus.basic_auth.password_env: VM_PASSWORD is not set\n"
    )


def test_validate_against_live_data_uses_the_local_ops_yaml_credentials(
    tmp_path: Path, guarded_victoria: VictoriaMetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ops.yaml").write_text(
        json.dumps(
            {
                "prometheus": {
                    "url": guarded_victoria.url,
                    "basic_auth": {"username": "ops", "password_env": "VM_PASSWORD"},
                }
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    arguments = ["slo", "validate", str(ROOT / "slos"), "--prometheus", guarded_victoria.url]
    arguments += ["--at", "1794819600"]
    result = CliRunner().invoke(main, arguments, env={"VM_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "and against live data" in result.output
    refused = CliRunner().invoke(main, arguments, env={"VM_PASSWORD": "not-the-password"})
    assert refused.exit_code == 1
    assert "(ops.yaml: prometheus) refused the credentials: HTTP 401 Unauthorized" in (
        refused.output
    ), refused.output
