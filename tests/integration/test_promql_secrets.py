"""Secret params in promql steps against a real Prometheus: nothing it echoes back leaks."""

from __future__ import annotations

import json
from pathlib import Path

from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, World, run_document, start_run
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.runbook.state import StateStore
from tests.cli.test_run_cli import ops, write_runbook
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_promql_steps import promql
from tests.runbook.fakes import ScriptedUI

SECRET = "hunter2-(secret"


def test_what_prometheus_echoes_of_a_secret_param_is_masked(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    body = promql("echo", 'label_replace(vector(1), "token", "$PW", "", "")') + promql(
        "bad-regex", 'up{job=~"$PW"}', retries="1", retry_delay="0s"
    )
    text = f"---\ntitle: Q\nowner: o\nparams:\n  PW: {{secret: true}}\n---\n{body}"
    runbook = parse_runbook(text, str(tmp_path / "q.md"))
    source = PrometheusSource(worked_prometheus.url, timeout=5)
    ui = ScriptedUI()
    world = World(
        ui=ui,
        store=StateStore(str(tmp_path / "s")),
        audit=AuditLog(str(tmp_path / "s" / "a.jsonl")),
        env={"PW": SECRET},
        metrics=lambda: source,
    )
    record = start_run(runbook, RunOptions(keep_going=True), world)
    assert record.steps["echo"].output == '{token="***"}  1\n'
    assert record.steps["bad-regex"].status == "failed"
    assert "***" in record.steps["bad-regex"].message
    shown = "".join(ui.shown)
    assert '{token="***"}  1\n' in shown and "retrying" in shown
    assert "hunter2" not in shown + json.dumps(run_document(record))


def test_the_password_of_the_prometheus_url_is_masked(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, promql("q", "up"))
    url = "http://ops:prom-pass-123@127.0.0.1:9"
    result = ops(  # from the environment: --prometheus refuses a password
        "runbook", "run", str(path), "--json", "--state-dir", str(tmp_path / "s"),
        env={"OPS_PROMETHEUS_URL": url},
    )  # fmt: skip
    assert result.returncode == 1
    (step,) = json.loads(result.stdout)["steps"]
    assert step["message"].startswith("cannot reach Prometheus at http://ops:***@127.0.0.1:9: ")
    assert "prom-pass-123" not in result.stdout + result.stderr
