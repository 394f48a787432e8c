"""Generated Prometheus history whose true counts are known, and its backfill with promtool.

The worked example's 30 days of document-search metrics (with incidents) come from here; the
demo loads them into a local Prometheus, and the integration tests compare ``ops`` reports
against ``Dataset.total``, the generator's truth.
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops_toolkit.demo.servers import VictoriaMetricsServer

DAY = 86400


@dataclass
class Series:
    """A counter: one increment per step, starting at ``Dataset.start``.

    ``scale`` divides the written values (recorded ratios are written in millionths).
    """

    name: str
    labels: dict[str, str]
    increments: list[int]
    scale: int = 1

    def key(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"


@dataclass
class Dataset:
    start: int
    step: int
    series: list[Series] = field(default_factory=list)

    @property
    def end(self) -> int:
        length = max((len(s.increments) for s in self.series), default=1)
        return self.start + self.step * (length - 1)

    def matching(
        self, name: str, labels: Mapping[str, str | Callable[[str], bool]]
    ) -> list[Series]:
        def ok(series: Series) -> bool:
            for key, want in labels.items():
                value = series.labels.get(key, "")
                if callable(want):
                    if not want(value):
                        return False
                elif value != want:
                    return False
            return True

        return [s for s in self.series if s.name == name and ok(s)]

    def total(
        self,
        name: str,
        labels: Mapping[str, str | Callable[[str], bool]],
        since: float,
        until: float,
    ) -> int:
        """True count of events with sample time in (since, until], summed over matching series."""
        first = max(0, math.floor((since - self.start) / self.step) + 1)
        last = math.floor((until - self.start) / self.step)
        return sum(sum(s.increments[first : last + 1]) for s in self.matching(name, labels))

    def write_openmetrics(
        self, directory: str, chunk: int = DAY, *, milliseconds: bool = False
    ) -> list[str]:
        """OpenMetrics files of at most ``chunk`` seconds each (promtool re-reads a file per block).

        ``milliseconds``: the Prometheus text format instead (timestamps in milliseconds, no
        ``# EOF``), as VictoriaMetrics' ``/api/v1/import/prometheus`` reads it.
        """
        os.makedirs(directory, exist_ok=True)
        cumulative = [_running(s.increments) for s in self.series]
        length = max(len(s.increments) for s in self.series)
        per_file = max(1, chunk // self.step)
        paths = []
        for number, first in enumerate(range(0, length, per_file)):
            last = min(length, first + per_file)
            path = os.path.join(directory, f"chunk-{number:04d}.om")
            with open(path, "w", encoding="ascii") as handle:
                for series, values in zip(self.series, cumulative, strict=True):
                    key = series.key()
                    times = range(
                        self.start + first * self.step, self.start + last * self.step, self.step
                    )
                    unit = "000" if milliseconds else ""
                    handle.writelines(
                        f"{key} {_scaled(values[i], series.scale)} {t}{unit}\n"
                        for i, t in zip(range(first, last), times, strict=True)
                    )
                if not milliseconds:
                    handle.write("# EOF\n")
            paths.append(path)
        return paths


def _scaled(value: int, scale: int) -> str:
    return str(value) if scale == 1 else repr(value / scale)


def _running(increments: list[int]) -> list[int]:
    total, out = 0, []
    for value in increments:
        total += value
        out.append(total)
    return out


def backfill(dataset: Dataset, tsdb_dir: str, work_dir: str, promtool: str = "promtool") -> None:
    """Write ``dataset`` as TSDB blocks into ``tsdb_dir`` (promtool, two files at a time)."""
    paths = dataset.write_openmetrics(work_dir)
    os.makedirs(tsdb_dir, exist_ok=True)

    def one(path: str) -> None:
        result = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", path, tsdb_dir],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"promtool backfill of {path} failed: {result.stderr.strip()}")
        os.unlink(path)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, paths))


def load_victoria_metrics(dataset: Dataset, server: VictoriaMetricsServer, work_dir: str) -> None:
    """The same samples ``backfill`` gives Prometheus, imported into VictoriaMetrics."""
    paths = dataset.write_openmetrics(work_dir, milliseconds=True)
    server.import_prometheus(paths)
    for path in paths:
        os.unlink(path)


def _spread(expected: list[float]) -> list[int]:
    """Whole counts whose running sum tracks the running sum of ``expected`` (no randomness)."""
    out, carry = [], 0.0
    for value in expected:
        carry += value
        whole = math.floor(carry)
        out.append(whole)
        carry -= whole
    return out


@dataclass(frozen=True)
class Incident:
    """A stretch of time, in seconds before the end, with a different bad ratio."""

    starts_before_end: int
    duration: int
    bad_ratio: float


def worked_example(end: int, days: int = 30, step: int = 60) -> Dataset:
    """The document-search service: requests, answer latency, feedback, ingestion runs."""
    start = end - days * DAY + step
    times = list(range(start, end + 1, step))
    per_second = [
        5.0 * (1.0 + 0.5 * math.sin(2 * math.pi * ((t % DAY) / DAY - 0.3))) for t in times
    ]
    requests = [r * step for r in per_second]

    def ratio(base: float, incidents: list[Incident]) -> list[float]:
        out = []
        for t in times:
            value = base
            for incident in incidents:
                begin = end - incident.starts_before_end
                if begin <= t < begin + incident.duration:
                    value = incident.bad_ratio
            out.append(value)
        return out

    errors = ratio(0.0002, [Incident(18 * DAY, 3 * 3600, 0.04), Incident(50 * 60, 60 * 60, 0.03)])
    slow = ratio(0.004, [Incident(10 * DAY, 6 * 3600, 0.08)])
    unhelpful = ratio(0.06, [Incident(5 * DAY, 2 * DAY, 0.16)])
    late = ratio(0.01, [Incident(3 * DAY, 12 * 3600, 0.5)])

    bad_requests = _spread([r * e for r, e in zip(requests, errors, strict=True)])
    all_requests = _spread(requests)
    good_requests = [a - b for a, b in zip(all_requests, bad_requests, strict=True)]
    labels = {"service": "search-api", "route": "/search"}
    dataset = Dataset(start, step)
    dataset.series += [
        Series("http_requests_total", {**labels, "code": "200"}, good_requests),
        Series("http_requests_total", {**labels, "code": "500"}, bad_requests),
    ]
    # Latency histogram: cumulative buckets; 'slow' is the share above 1.5 s.
    slow_counts = _spread([a * s for a, s in zip(all_requests, slow, strict=True)])
    shares = {"0.25": 0.55, "0.5": 0.8, "1": 0.95}
    for le, share in shares.items():
        dataset.series.append(
            Series(
                "http_request_duration_seconds_bucket",
                {"service": "search-api", "le": le},
                _spread([(a - s) * share for a, s in zip(all_requests, slow_counts, strict=True)]),
            )
        )
    fast = [a - s for a, s in zip(all_requests, slow_counts, strict=True)]
    dataset.series += [
        Series(
            "http_request_duration_seconds_bucket", {"service": "search-api", "le": "1.5"}, fast
        ),
        Series(
            "http_request_duration_seconds_bucket",
            {"service": "search-api", "le": "5"},
            _spread([f + s * 0.9 for f, s in zip(fast, slow_counts, strict=True)]),
        ),
        Series(
            "http_request_duration_seconds_bucket",
            {"service": "search-api", "le": "+Inf"},
            all_requests,
        ),
        Series("http_request_duration_seconds_count", {"service": "search-api"}, all_requests),
    ]
    ratings = _spread([r * 0.02 for r in requests])
    bad_ratings = _spread([n * u for n, u in zip(ratings, unhelpful, strict=True)])
    dataset.series += [
        Series(
            "search_answer_feedback_total",
            {"service": "search-api", "rating": "helpful"},
            [n - b for n, b in zip(ratings, bad_ratings, strict=True)],
        ),
        Series(
            "search_answer_feedback_total",
            {"service": "search-api", "rating": "unhelpful"},
            bad_ratings,
        ),
    ]
    runs = [1 if (t // step) % max(1, 900 // step) == 0 else 0 for t in times]
    late_runs = _spread([r * x for r, x in zip(runs, late, strict=True)])
    dataset.series += [
        Series(
            "ingest_pipeline_runs_total",
            {"pipeline": "documents", "outcome": "on_time"},
            [r - x for r, x in zip(runs, late_runs, strict=True)],
        ),
        Series(
            "ingest_pipeline_runs_total", {"pipeline": "documents", "outcome": "late"}, late_runs
        ),
    ]
    dataset.series += rollout_series(len(times), step)
    return dataset


PILOT_USERS = 50
TICKETS_PER_DAY = 0.2


def rollout_series(length: int, step: int) -> list[Series]:
    """The staged rollout's evidence: the pilot's active users (a gauge, constant) and the
    support tickets they open (a counter, ``TICKETS_PER_DAY`` on average)."""
    users = [PILOT_USERS] + [0] * (length - 1)  # written cumulatively: a constant gauge
    tickets = _spread([TICKETS_PER_DAY * step / DAY] * length)
    labels = {"service": "search-api"}
    return [
        Series("search_active_users", labels, users),
        Series("search_support_tickets_total", labels, tickets),
    ]


def synthetic_services(count: int, end: int, days: int = 30, step: int = 300) -> Dataset:
    """``count`` services with a request counter each (200s and 500s), for benchmarks."""
    start = end - days * DAY + step
    length = (end - start) // step + 1
    dataset = Dataset(start, step)
    for number in range(count):
        requests = _spread([step * (2.0 + number % 7) for _ in range(length)])
        bad = _spread([r * (0.0005 + 0.0001 * (number % 5)) for r in requests])
        labels = {"service": f"svc-{number:04d}"}
        dataset.series += [
            Series(
                "http_requests_total",
                {**labels, "code": "200"},
                [r - b for r, b in zip(requests, bad, strict=True)],
            ),
            Series("http_requests_total", {**labels, "code": "500"}, bad),
        ]
    return dataset


def synthetic_slo_file(count: int) -> str:
    """An ops/v1 file with one availability SLO per synthetic service."""
    lines = ["version: ops/v1", "service: bench", "slos:"]
    for number in range(count):
        service = f"svc-{number:04d}"
        lines += [
            f"  - name: {service}-availability",
            "    objective: 99.9",
            "    sli:",
            "      ratio:",
            f'        bad: http_requests_total{{service="{service}",code=~"5.."}}',
            f'        total: http_requests_total{{service="{service}"}}',
        ]
    return "\n".join(lines) + "\n"


def recorded_ratios(count: int, end: int, names: list[str], minutes: int = 30) -> Dataset:
    """Series as ``ops slo rules`` records them for ``count`` synthetic SLOs (benchmarks).

    Gauges written as counters would be: the value is the ratio itself, constant per series.
    """
    dataset = Dataset(end - (minutes - 1) * 60, 60)
    for number in range(count):
        labels = {"service": "bench", "slo": f"svc-{number:04d}-availability"}
        ratio_millionths = 200 + 50 * (number % 11)
        for name in names:
            # One increment at the first step, then none: the series holds a constant value.
            dataset.series.append(
                Series(
                    name, dict(labels), [ratio_millionths] + [0] * (minutes - 1), scale=1_000_000
                )
            )
    return dataset
