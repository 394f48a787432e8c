"""OpenSLO files against the real Prometheus: every SLI kind and budgeting method.

The truth is computed from the generated data with the semantics of the installed
Prometheus (2.42): a range ``[r]`` or subquery ``[r:s]`` evaluated at T holds the samples
in [T-r, T], subquery points at multiples of s; with a sample every minute and ranges in
whole minutes, ``increase(x[5m])`` at T is exactly the events in (T-5m, T]. The report is
evaluated at a time that is not a multiple of 5 minutes, so no window edge falls on a
five-minute slice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.data import Dataset
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo import budget
from ops_toolkit.slo.evaluate import PERIOD, SLOStatus, evaluate
from ops_toolkit.slo.spec import load_slos
from ops_toolkit.slo.windows import BURN_WINDOWS
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_rules import promtool
from tests.integration.test_slo_report import truth

OPENSLO = Path(__file__).resolve().parent.parent / "slo" / "fixtures" / "openslo"
DAY = 86400
SEARCH = {"service": "search-api"}


class Events:
    """Events of the worked example's requests in (since, until], from prefix sums."""

    def __init__(self, data: Dataset) -> None:
        self.start, self.step = data.start, data.step

        def prefix(labels: dict[str, str | Callable[[str], bool]]) -> list[int]:
            sums = [0]
            series = data.matching("http_requests_total", labels)
            for values in zip(*(s.increments for s in series), strict=True):
                sums.append(sums[-1] + sum(values))
            return sums

        self.bad = prefix({**SEARCH, "code": lambda c: c.startswith("5")})
        self.total = prefix(dict(SEARCH))

    def _index(self, moment: float) -> int:
        """How many samples have times <= moment."""
        return max(0, min(len(self.total) - 1, int((moment - self.start) // self.step) + 1))

    def count(self, sums: list[int], since: float, until: float) -> int:
        return sums[self._index(until)] - sums[self._index(since)]

    def ratio(self, since: float, until: float) -> float | None:
        total = self.count(self.total, since, until)
        return self.count(self.bad, since, until) / total if total else None


def points(at: float, span: int, step: int) -> list[int]:
    """Subquery evaluation times: multiples of ``step`` in [at - span, at]."""
    first = -(-int(at - span) // step) * step
    return list(range(first, int(at) + 1, step))


def expected_error_ratio(name: str, events: Events, at: float, span: int) -> float:
    """The error ratio (bad share of events, or of slices) of a methods.yaml SLO."""
    if name == "availability-slices":
        slices = [events.ratio(t - 300, t) for t in points(at, span, 300)]
        counted = [r for r in slices if r is not None]
        return sum(1 for r in counted if r > 0.01) / len(counted)
    if name == "availability-ratio-slices":
        counted = [r for t in points(at, span, 300) if (r := events.ratio(t - 300, t)) is not None]
        return sum(counted) / len(counted)
    if name == "availability-gauge":
        minutes = points(at, span, 60)
        bad = sum(events.count(events.bad, t - 300, t) for t in minutes)
        return bad / sum(events.count(events.total, t - 300, t) for t in minutes)
    if name == "availability-raw":
        ratios = [events.ratio(t - 300, t) for t in points(at, span, 60)]
        return sum(r for r in ratios if r is not None) / len(ratios)
    if name == "error-threshold":
        ratios = [events.ratio(t - 300, t) for t in points(at, span, 60)]
        return sum(1 for r in ratios if r is not None and r > 0.01) / len(ratios)
    assert name == "error-threshold-slices"
    bad_slices = 0
    slices = points(at, span, 300)
    for t in slices:
        minutes = points(t, 300, 60)
        missed = [
            1 if (r := events.ratio(m - 300, m)) is not None and r > 0.01 else 0 for m in minutes
        ]
        bad_slices += sum(missed) / len(minutes) > 0.2
    return bad_slices / len(slices)


@pytest.fixture(scope="module")
def pinned(worked_prometheus: LoadedPrometheus) -> float:
    """The report's time: a minute boundary that is not a five-minute one."""
    return float(worked_prometheus.end // 300 * 300 - 120)


def statuses(name: str, url: str, at: float) -> list[SLOStatus]:
    """``name``'s SLOs, read with slis.yaml (the SLI and alert policy they refer to)."""
    slos = load_slos([str(OPENSLO / name), str(OPENSLO / "slis.yaml")])
    return evaluate(slos, PrometheusSource(url), at)


def test_budgeting_methods_and_sli_kinds_match_the_truth(
    worked_prometheus: LoadedPrometheus, pinned: float
) -> None:
    events = Events(worked_prometheus.dataset)
    found = statuses("methods.yaml", worked_prometheus.url, pinned)
    assert [s.slo.name for s in found] == [
        "availability-slices",
        "availability-ratio-slices",
        "availability-gauge",
        "availability-raw",
        "error-threshold",
        "error-threshold-slices",
    ]
    checked = 0
    for status in found:
        assert status.error is None, status.error
        for window in (PERIOD, *BURN_WINDOWS):
            span = 28 * DAY if window == PERIOD else window
            counts = status.period if window == PERIOD else status.windows[window]
            assert counts is not None, (status.slo.name, window)
            expected = expected_error_ratio(status.slo.name, events, pinned, span)
            assert budget.error_rate(counts) == pytest.approx(expected, rel=1e-6, abs=1e-9), (
                status.slo.name,
                window,
            )
            checked += 1
        assert status.budget_remaining == pytest.approx(
            1 - expected_error_ratio(status.slo.name, events, pinned, 28 * DAY) / status.slo.budget,
            abs=1e-6,
        )
    assert checked == 6 * 8
    # The 3% incident of the last hour: slices and minutes above 1% errors burn fast.
    assert {s.slo.name: s.status for s in found}["availability-slices"] == "critical"


def test_ratio_latency_several_objectives_and_calendar_windows(
    worked_prometheus: LoadedPrometheus, pinned: float
) -> None:
    found = {s.slo.name: s for s in statuses("search.yaml", worked_prometheus.url, pinned)}
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 1, 5, tzinfo=berlin)
    moment = datetime.fromtimestamp(pinned, UTC)
    while start + timedelta(days=14) <= moment:  # calendar 2w periods from 5 January, local
        start = (start.replace(tzinfo=None) + timedelta(days=14)).replace(tzinfo=berlin)
    windows = {
        "availability": ("availability", pinned - 28 * DAY),
        "answer-latency": ("answer-latency", pinned - 14 * DAY),
        "answer-accuracy-helpful": ("answer-accuracy", start.timestamp()),
        "answer-accuracy-mostly-helpful": ("answer-accuracy", start.timestamp()),
    }
    assert sorted(found) == sorted(windows)
    for name, (truth_key, since) in windows.items():
        status = found[name]
        assert status.error is None, status.error
        bad, total = truth(worked_prometheus, truth_key, since, pinned)
        assert status.period is not None
        assert status.period.total == pytest.approx(total, rel=1e-3), name
        assert status.budget_remaining == pytest.approx(
            1 - (bad / total) / status.slo.budget, abs=0.002
        ), name
    # Each objective has its own budget over the same events.
    helpful, mostly = found["answer-accuracy-helpful"], found["answer-accuracy-mostly-helpful"]
    assert helpful.period == mostly.period
    assert helpful.slo.budget == pytest.approx(0.1) and mostly.slo.budget == pytest.approx(0.15)


def test_v1alpha_matches_v1(worked_prometheus: LoadedPrometheus, pinned: float) -> None:
    alpha = {s.slo.name: s for s in statuses("alpha.yaml", worked_prometheus.url, pinned)}
    bad, total = truth(worked_prometheus, "availability", pinned - 28 * DAY, pinned)
    assert alpha["availability"].budget_remaining == pytest.approx(
        1 - (bad / total) / 0.001, abs=0.002
    )
    events = Events(worked_prometheus.dataset)
    period = alpha["error-threshold"].period
    assert period is not None
    assert budget.error_rate(period) == pytest.approx(
        expected_error_ratio("error-threshold", events, pinned, 28 * DAY), rel=1e-6
    )


@pytest.mark.parametrize(
    ("name", "service", "rule_groups", "tests"),
    [
        pytest.param("search.yaml", "search-openslo", 12, 19, id="ratio, latency, objectives"),
        pytest.param("methods.yaml", "search-methods", 18, 0, id="methods and SLI kinds"),
        pytest.param("alpha.yaml", "search-alpha", 6, 5, id="v1alpha"),
    ],
)
def test_rules_pass_promtool(
    name: str, service: str, rule_groups: int, tests: int, tmp_path: Path
) -> None:
    paths = [str(OPENSLO / name), str(OPENSLO / "slis.yaml")]
    result = CliRunner().invoke(main, ["slo", "rules", *paths, "-o", str(tmp_path), "--tests"])
    assert result.exit_code == 0, result.output
    check = promtool("check", "rules", str(tmp_path / f"{service}.rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    groups = yaml.safe_load((tmp_path / f"{service}.rules.yaml").read_text())["groups"]
    assert len(groups) == rule_groups
    test_file = tmp_path / f"{service}.rules.test.yaml"
    assert len(yaml.safe_load(test_file.read_text())["tests"]) == tests
    run = promtool("test", "rules", str(test_file))
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_data_source_url_is_the_reports_prometheus(
    worked_prometheus: LoadedPrometheus,
    pinned: float,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no ops.yaml here
    monkeypatch.delenv("OPS_PROMETHEUS_URL", raising=False)
    text = (OPENSLO / "search.yaml").read_text()
    (tmp_path / "search.yaml").write_text(
        text.replace("http://127.0.0.1:9090", worked_prometheus.url)
    )
    (tmp_path / "slis.yaml").write_text((OPENSLO / "slis.yaml").read_text())
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "report",
            str(tmp_path / "search.yaml"),
            str(tmp_path / "slis.yaml"),
            "--at",
            str(pinned),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    documents = {d["slo"]: d for d in json.loads(result.stdout)}
    assert documents["availability"]["status"] == "critical"
    assert documents["answer-latency"]["budget_remaining"] is not None
