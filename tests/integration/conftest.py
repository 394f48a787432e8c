"""Real servers for the integration tests, built once per test session.

Prometheus (Debian package) is loaded with 30 days of the worked example's generated metrics
through promtool; the dataset object is the truth the tests compare against.

No expectation may depend on when the tests run. The data ends at a pinned instant
(``PINNED_END``) and the tests query at that instant (``--at``), so the worked example's
daily traffic cycle and its calendar month look the same at any hour and on any date.
``OPS_TEST_DATA_END`` (RFC 3339, unix seconds, or ``now``) moves the data's end, to check
that the expectations derived from the generator's truth hold there too; ``wall_clock``
runs a test at several wall-clock instants to show the machine's clock does not leak in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from ops_toolkit.demo.data import Dataset, backfill, load_victoria_metrics, worked_example
from ops_toolkit.demo.servers import (
    AlertmanagerCluster,
    PrometheusServer,
    VictoriaMetricsServer,
    require_binary,
)


@dataclass(frozen=True)
class LoadedPrometheus:
    server: PrometheusServer
    dataset: Dataset

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def end(self) -> int:
        return self.dataset.end

    def truth(self, key: str, since: float, until: float) -> tuple[int, int]:
        """(bad, total) events of the worked example's SLO ``key`` in (since, until]."""
        data = self.dataset
        search = {"service": "search-api"}
        if key == "availability":
            return (
                data.total(
                    "http_requests_total",
                    {**search, "code": lambda c: c.startswith("5")},
                    since,
                    until,
                ),
                data.total("http_requests_total", search, since, until),
            )
        if key == "answer-latency":
            total = data.total("http_request_duration_seconds_count", search, since, until)
            good = data.total(
                "http_request_duration_seconds_bucket", {**search, "le": "1.5"}, since, until
            )
            return total - good, total
        if key == "answer-accuracy":
            return (
                data.total(
                    "search_answer_feedback_total", {**search, "rating": "unhelpful"}, since, until
                ),
                data.total("search_answer_feedback_total", search, since, until),
            )
        pipeline = {"pipeline": "documents"}
        total = data.total("ingest_pipeline_runs_total", pipeline, since, until)
        good = data.total(
            "ingest_pipeline_runs_total", {**pipeline, "outcome": "on_time"}, since, until
        )
        return total - good, total

    def remaining(self, key: str, objective: float, window: int = 30 * 86400) -> float:
        """The true budget remaining of a rolling-window SLO at the data's end."""
        bad, total = self.truth(key, self.end - window, self.end)
        return 1 - (bad / total) / (1 - objective / 100)


# 2026-11-16T09:00:00Z, a Monday morning: a day's traffic cycle and half a calendar month of
# history behind it. Any instant would do; a fixed one makes every run see the same data.
PINNED_END = 1794819600


def data_end() -> int:
    """The end of the generated data: ``PINNED_END``, or ``OPS_TEST_DATA_END`` when set."""
    value = os.environ.get("OPS_TEST_DATA_END", "")
    if not value:
        return PINNED_END
    if value == "now":
        moment = time.time()
    else:
        try:
            moment = float(value)
        except ValueError:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return int(moment) // 60 * 60


# Wall-clock instants the time-sensitive tests also run at: the hour the budget once crossed
# a test's bound (after 18:00 UTC), the first minutes of a month, a daylight-saving night in
# Europe, and a time before the data's end.
WALL_CLOCKS = {
    "late evening": datetime(2026, 11, 29, 23, 10, tzinfo=UTC),
    "new month": datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
    "DST night": datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
    "before the data": datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
}


@pytest.fixture(params=list(WALL_CLOCKS.values()), ids=list(WALL_CLOCKS))
def wall_clock(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """Run the test with the process's clock at each of ``WALL_CLOCKS``."""
    with time_machine.travel(request.param, tick=True):
        yield request.param


@contextmanager
def loaded_prometheus(base: Path, end: int) -> Iterator[LoadedPrometheus]:
    """A real Prometheus holding the worked example's 30 days up to ``end`` (unix seconds)."""
    require_binary("promtool")
    dataset = worked_example(end)
    backfill(dataset, str(base / "tsdb"), str(base / "openmetrics"))
    server = PrometheusServer(str(base / "work"), str(base / "tsdb")).start()
    try:
        yield LoadedPrometheus(server, dataset)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def worked_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedPrometheus]:
    with loaded_prometheus(tmp_path_factory.mktemp("prometheus"), data_end()) as loaded:
        yield loaded


@dataclass(frozen=True)
class LoadedVictoriaMetrics(LoadedPrometheus):
    """VictoriaMetrics single-node holding exactly the samples ``worked_prometheus`` holds
    (its URL, end and truth are those of a loaded Prometheus: same API, same data)."""

    server: VictoriaMetricsServer  # type: ignore[assignment]


@pytest.fixture(scope="session")
def worked_victoria(
    tmp_path_factory: pytest.TempPathFactory, worked_prometheus: LoadedPrometheus
) -> Iterator[LoadedVictoriaMetrics]:
    """The worked example's dataset (the very object Prometheus was loaded from), imported
    into a VictoriaMetrics started on a free loopback port with a temporary data dir."""
    base: Path = tmp_path_factory.mktemp("victoria")
    server = VictoriaMetricsServer(str(base / "work")).start()
    try:
        load_victoria_metrics(worked_prometheus.dataset, server, str(base / "import"))
        yield LoadedVictoriaMetrics(server, worked_prometheus.dataset)
    finally:
        server.stop()


ClusterFactory = Callable[[Sequence[str], str | None], AlertmanagerCluster]


@pytest.fixture
def alertmanager_cluster(tmp_path: Path) -> Iterator[ClusterFactory]:
    """Start two peered Alertmanagers whose receiver has one webhook per given URL (each
    ``ops serve`` replica's ``/alertmanager``), settled before the test goes on."""
    require_binary("prometheus-alertmanager")
    started: list[AlertmanagerCluster] = []

    def start(webhook_urls: Sequence[str], token: str | None) -> AlertmanagerCluster:
        directory = tmp_path / f"alertmanagers-{len(started)}"
        cluster = AlertmanagerCluster(str(directory), webhook_urls, token)
        started.append(cluster)
        return cluster.start()

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()
