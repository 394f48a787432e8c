"""The rules ``ops slo rules`` generates, loaded and evaluated by vmalert (Debian package
``victoria-metrics``) against VictoriaMetrics.

- ``vmalert -dryRun`` parses every generated file (MetricsQL accepts each PromQL form used).
- Replayed over the worked example's 30 days (``-replay.*``, as promtool's rule backfill does
  for Prometheus), the recorded series give the budgets of Prometheus's direct report, within
  the tolerance ``tests/integration/test_rules.py`` holds Prometheus's recorded series to.
- A short live run (``-evaluationInterval=1s``, ``-remoteWrite.url``) records series that
  equal the generator's truth at the instants vmalert chose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.data import load_victoria_metrics, worked_example
from ops_toolkit.demo.servers import (
    AlertmanagerServer,
    VictoriaMetricsServer,
    VmalertServer,
    vmalert_dry_run,
    vmalert_replay,
)
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_rules import agreement_rules


def test_generated_rules_pass_the_vmalert_dry_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["slo", "rules", str(ROOT / "slos"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted(str(p) for p in tmp_path.glob("*.rules.yaml"))
    assert files
    checked = vmalert_dry_run(files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The dry run does check expressions: one broken rule makes it fail, naming the rule.
    broken = tmp_path / "broken.rules.yaml"
    text = Path(files[0]).read_text()
    broken.write_text(text.replace("sum(increase(", "sum(increase((", 1))
    refused = vmalert_dry_run([str(broken)])
    assert refused.returncode != 0
    assert 'invalid expression for rule "slo-search-availability-events"."slo:bad_events:' in (
        refused.stdout + refused.stderr
    )


def test_the_repository_rules_pass_the_vmalert_dry_run() -> None:
    files = sorted(str(p) for p in (ROOT / "alerts").glob("*.rules.yaml"))
    checked = vmalert_dry_run(files)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture(scope="module")
def recorded_victoria(
    worked_prometheus: LoadedPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, list[str]]]:
    """A VictoriaMetrics holding the worked example and what its rules record, replayed by
    vmalert exactly as ``recorded_prometheus`` records them for Prometheus: the 5m counts
    every 5m over 31 days, then the ratios every minute over the last 5 minutes."""
    base = tmp_path_factory.mktemp("vmrules")
    paths, _ = agreement_rules(base)
    end = worked_prometheus.end // 300 * 300
    server = VictoriaMetricsServer(str(base / "vm")).start()
    try:
        load_victoria_metrics(worked_prometheus.dataset, server, str(base / "import"))
        for path, start, interval in (
            (base / "events.yaml", end - 31 * 86400, "5m"),
            (base / "ratios.yaml", end - 300, "1m"),
        ):
            replayed = vmalert_replay([str(path)], server.url, start, end, interval)
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr
            server.flush()
        yield server.url, end, paths
    finally:
        server.stop()


def report(url: str, at: int, paths: list[str], *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main,
        ["slo", "report", *paths, "--prometheus", url, "--at", str(at), "-o", "json", *extra],
    )
    assert result.exit_code == 0, result.output
    return {document["slo"]: document for document in json.loads(result.stdout)}


def test_vmalert_records_the_budgets_prometheus_reports(
    recorded_victoria: tuple[str, int, list[str]], worked_prometheus: LoadedPrometheus
) -> None:
    """What vmalert recorded, read back with ``--use-rules``, against Prometheus's direct
    report on the same data (``test_rules.py`` holds Prometheus's own recorded series to
    that same report and tolerance, so the two recorders agree through it)."""
    victoria_url, end, paths = recorded_victoria
    from_victoria = report(victoria_url, end, paths, "--use-rules")
    from_prometheus = report(worked_prometheus.url, end, paths)
    assert len(from_victoria) == len(from_prometheus) == 7
    periods = {"availability-week": 7, "availability-week-min-events": 7, "latency-three-days": 3}
    compared = 0
    for name, expected in from_prometheus.items():
        got = from_victoria[name]
        assert got["status"] == expected["status"], name
        # test_rules.py's tolerance: 1% of a 30d budget, scaled for shorter periods.
        tolerance = 0.01 * 30 / periods.get(name, 30)
        assert got["budget_remaining"] == pytest.approx(
            expected["budget_remaining"], abs=tolerance
        ), name
        # A window made of whole 5m counts evaluated on the 5m grid holds exactly the events
        # of the direct query (VictoriaMetrics counts each 5m from the sample before it).
        for window, rate in expected["burn_rates"].items():
            if rate is not None and window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
                assert got["burn_rates"][window] == pytest.approx(rate, rel=1e-4), (name, window)
                compared += 1
    assert compared >= 40
    statuses = {name: document["status"] for name, document in from_victoria.items()}
    assert statuses["availability"] == statuses["availability-week"] == "critical"
    assert statuses["availability-week-min-events"] == "ok"


def recorded_samples(url: str, series: str, at: float) -> list[tuple[float, float]]:
    answer = requests.post(
        f"{url}/api/v1/query", data={"query": f"{series}[10m]", "time": str(at)}, timeout=10
    ).json()
    return [(float(t), float(v)) for item in answer["data"]["result"] for t, v in item["values"]]


def pending_alerts(vmalert: VmalertServer) -> set[tuple[str, str, str]]:
    answer = requests.get(f"{vmalert.url}/api/v1/alerts", timeout=10).json()
    return {
        (alert["name"], alert["labels"].get("severity", ""), alert["state"])
        for alert in answer["data"]["alerts"] or ()
    }


def test_a_short_live_vmalert_run_records_the_true_counts(tmp_path: Path) -> None:
    """Live data (ending at the last whole minute) and vmalert evaluating every second: the
    recorded 5m counts equal the generator's counts in the 5 minutes before each evaluation,
    and the last hour's incident (3% errors) makes the page alert pending (its ``for: 2m``
    has not passed: the test does not wait for it)."""
    end = int(time.time()) // 60 * 60
    dataset = worked_example(end, days=1)
    server = VictoriaMetricsServer(str(tmp_path / "vm")).start()
    alertmanager = AlertmanagerServer(str(tmp_path / "am"), "http://127.0.0.1:9/", None).start()
    try:
        load_victoria_metrics(dataset, server, str(tmp_path / "import"))
        rules = tmp_path / "rules"
        result = CliRunner().invoke(main, ["slo", "rules", str(ROOT / "slos"), "-o", str(rules)])
        assert result.exit_code == 0, result.output
        files = sorted(str(p) for p in rules.glob("*.rules.yaml"))
        vmalert = VmalertServer(
            str(tmp_path / "vmalert"),
            files,
            server.url,
            extra=[f"-notifier.url={alertmanager.url}"],
        ).start()
        total = 'slo:total_events:increase5m{slo="availability"}'
        ratio = 'slo:error_ratio:5m{slo="availability"}'
        page = ("SearchAvailabilityBudgetBurn", "page", "pending")
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                server.flush()
                if recorded_samples(server.url, ratio, time.time()) and page in pending_alerts(
                    vmalert
                ):
                    break
                time.sleep(0.5)
            assert page in pending_alerts(vmalert)
        finally:
            vmalert.stop()
        server.flush()
        samples = recorded_samples(server.url, total, time.time())
        assert samples, "vmalert recorded nothing within 60 s"
        search = {"service": "search-api"}
        for at, value in samples:
            # VictoriaMetrics takes a sample lying on the window's left edge into the window
            # and counts from the sample before it: evaluated on the data's own grid (a whole
            # minute here, which a run crossing one meets), a 5m window holds 6 steps. Seen
            # once: 1,465 recorded at 07:04:00 = the generator's (06:58, 07:04], not 1,173.
            on_grid = (at - dataset.start) % dataset.step == 0
            since = at - 300 - (dataset.step if on_grid else 0)
            assert value == dataset.total("http_requests_total", search, since, at), at
        (at, value), *_ = recorded_samples(server.url, ratio, time.time())
        # The ratio divides the latest 5m counts recorded before it, which vmalert wrote up to
        # a few seconds earlier (groups tick on their own; VictoriaMetrics makes new samples
        # searchable within about a second). Longer windows sum the recorded 5m counts: they
        # need the history this run lacks.
        ratios = set()
        for lag in range(10):
            since, until = at - lag - 300, at - lag
            bad = dataset.total("http_requests_total", {**search, "code": "500"}, since, until)
            ratios.add(bad / dataset.total("http_requests_total", search, since, until))
        assert any(value == pytest.approx(expected, rel=1e-12) for expected in ratios), (
            value,
            ratios,
        )
    finally:
        alertmanager.stop()
        server.stop()
