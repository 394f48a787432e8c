"""``ops slo validate --prometheus`` warns when Prometheus keeps less history than an SLO's
window: with Prometheus's default 15 days a 30d SLO silently reports on half its window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.data import backfill, worked_example
from ops_toolkit.demo.servers import PrometheusServer, require_binary
from ops_toolkit.slo.live import check_retention, retention_seconds
from ops_toolkit.slo.spec import load_slo_files
from tests.conftest import ROOT
from tests.integration.conftest import data_end


@pytest.fixture(scope="module")
def short_retention(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """The worked example's 30 days in a Prometheus started with its default 15d retention
    (a 30-day block outlives it whole: the data stays, only the stated limit is short)."""
    require_binary("promtool")
    base: Path = tmp_path_factory.mktemp("retention")
    backfill(worked_example(data_end()), str(base / "tsdb"), str(base / "openmetrics"))
    server = PrometheusServer(str(base / "work"), str(base / "tsdb"), retention="15d").start()
    try:
        yield server
    finally:
        server.stop()


def expected_warnings(url: str) -> list[str]:
    # lines 8, 17, 27 and 38 of slos/search.yaml start its four SLOs
    windows = [(8, 0, "availability", "30d"), (17, 1, "answer-latency", "30d")]
    windows += [(27, 2, "answer-accuracy", "30d"), (38, 3, "ingestion-freshness", "calendar month")]
    return [
        f"slos/search.yaml:{line}: slos[{index}]: search/{name}: its window ({window}, 30d) is "
        f"longer than the 15d Prometheus at {url} keeps (storageRetention 15d): budgets cover "
        "only the last 15d; set --storage.tsdb.retention.time to at least 30d"
        for line, index, name, window in windows
    ]


def test_validate_warns_at_file_line_when_retention_is_shorter_than_the_window(
    short_retention: PrometheusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    at = ["--at", str(data_end())]
    result = CliRunner().invoke(
        main, ["slo", "validate", "slos/search.yaml", "--prometheus", short_retention.url, *at]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "storageRetention" in line]
    assert warnings == [f"Warning: {w}" for w in expected_warnings(short_retention.url)]
    as_json = CliRunner().invoke(
        main,
        ["slo", "validate", "slos/search.yaml", "--prometheus", short_retention.url, *at, "--json"],
    )
    assert as_json.exit_code == 0, as_json.output
    findings = json.loads(as_json.stdout)["findings"]
    assert [f["message"] for f in findings if "storageRetention" in f["message"]] == (
        expected_warnings(short_retention.url)
    )
    assert {f["level"] for f in findings} == {"warning"}


def test_validate_says_nothing_of_retention_when_it_covers_the_window(
    short_retention: PrometheusServer, tmp_path: Path
) -> None:
    path = tmp_path / "week.yaml"
    text = (ROOT / "slos" / "search.yaml").read_text().replace("window: 30d", "window: 7d")
    path.write_text(text.replace("calendar: month", "calendar: week"))
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "validate",
            str(path),
            "--prometheus",
            short_retention.url,
            "--at",
            str(data_end()),
        ],
    )
    assert "storageRetention" not in result.output, result.output


@pytest.mark.parametrize(
    ("stated", "seconds"),
    [
        ("15d", 15 * 86400.0),
        ("1y", 365 * 86400.0),
        ("4w2d", 30 * 86400.0),
        ("30d or 10GiB", 30 * 86400.0),
        ("10GiB", None),
        ("", None),
    ],
    ids=["days", "a year", "weeks and days", "time or size", "size only", "nothing"],
)
def test_retention_as_prometheus_states_it(stated: str, seconds: float | None) -> None:
    assert retention_seconds(stated) == seconds


def test_a_server_that_states_no_retention_gets_no_warning() -> None:
    slos = [s for f in load_slo_files((str(ROOT / "slos"),)) for s in f.slos]
    assert check_retention(slos, None, "http://127.0.0.1:1", {}) == []
    assert check_retention(slos, "10GiB", "http://127.0.0.1:1", {}) == []
