"""Which source an SLO's report reads: recorded series when all are there and fresh."""

from __future__ import annotations

import pytest

from ops_toolkit.slo.evaluate import DIRECT, RECORDED, choose_source, recorded_names
from ops_toolkit.slo.model import SLO
from ops_toolkit.slo.spec import parse_slo_file

RATIO = "      ratio: {bad: 'x_total{code=\"500\"}', total: x_total}\n"


def slo(window: str = "window: 30d", extra: str = "") -> SLO:
    text = (
        "version: ops/v1\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n"
        f"    {window}\n{extra}    sli:\n{RATIO}"
    )
    return parse_slo_file(text, "api.yaml").slos[0]


def every(chosen: SLO, *, but: str = "") -> set[tuple[str, str, str]]:
    return {(name, "api", "availability") for name in recorded_names(chosen) if name != but}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("all", RECORDED, id="every series it reads is fresh: recorded"),
        pytest.param("one missing", DIRECT, id="one window missing: direct"),
        pytest.param("other slo", DIRECT, id="another SLO's series do not count"),
        pytest.param("calendar", DIRECT, id="a calendar SLO: direct, the rules are rolling"),
        pytest.param("min events", DIRECT, id="min_events without its total series: direct"),
    ],
)
def test_choose_source(case: str, expected: str) -> None:
    chosen = slo()
    present = every(chosen)
    if case == "one missing":
        present = every(chosen, but="slo:error_ratio:6h")
    elif case == "other slo":
        present = {(name, "api", "latency") for name, _, _ in present}
    elif case == "calendar":
        chosen = slo("calendar: month")
        present = every(chosen)
    elif case == "min events":
        chosen = slo(extra="    alerting: {min_events: 10}\n")
        present = {p for p in every(chosen) if not p[0].startswith("slo:total_events:")}
    assert choose_source(chosen, present) == expected


def test_the_names_an_slo_reads_are_its_period_and_report_windows() -> None:
    assert recorded_names(slo()) == [
        "slo:error_ratio:period",
        "slo:error_ratio:5m",
        "slo:error_ratio:30m",
        "slo:error_ratio:1h",
        "slo:error_ratio:2h",
        "slo:error_ratio:6h",
        "slo:error_ratio:1d",
        "slo:error_ratio:3d",
    ]
