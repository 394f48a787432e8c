"""Real servers for the integration tests, built once per test session.

Prometheus (Debian package) is loaded with 30 days of the worked example's generated metrics
through promtool; the dataset object is the truth the tests compare against.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops_toolkit.demo.data import Dataset, backfill, worked_example
from ops_toolkit.demo.servers import PrometheusServer, require_binary


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


@pytest.fixture(scope="session")
def worked_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedPrometheus]:
    require_binary("promtool")
    base: Path = tmp_path_factory.mktemp("prometheus")
    end = int(time.time()) // 60 * 60
    dataset = worked_example(end)
    backfill(dataset, str(base / "tsdb"), str(base / "openmetrics"))
    server = PrometheusServer(str(base / "work"), str(base / "tsdb")).start()
    try:
        yield LoadedPrometheus(server, dataset)
    finally:
        server.stop()
