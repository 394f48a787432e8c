"""Which source an SLO's report reads: recorded series when all are there and fresh."""

from __future__ import annotations

import pytest

from ops_toolkit.slo.evaluate import (
    DIRECT,
    NOT_LOADED,
    RECORDED,
    SourceChoice,
    choose_source,
    recorded_names,
)
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
        pytest.param(
            "all",
            SourceChoice(RECORDED, "recorded series present and fresh"),
            id="every series it reads is fresh: recorded",
        ),
        pytest.param(
            "one missing",
            SourceChoice(DIRECT, "recorded series missing: slo:error_ratio:6h"),
            id="one window missing: direct",
        ),
        pytest.param(
            "other slo", SourceChoice(DIRECT, NOT_LOADED), id="another SLO's series do not count"
        ),
        pytest.param(
            "calendar",
            SourceChoice(DIRECT, "a calendar period: the rules record rolling windows"),
            id="a calendar SLO: direct, the rules are rolling",
        ),
        pytest.param(
            "min events",
            SourceChoice(
                DIRECT,
                "recorded series missing: slo:total_events:1h, slo:total_events:6h, "
                "slo:total_events:1d and 1 more",
            ),
            id="min_events without its total series: direct",
        ),
        pytest.param(
            "stale",
            SourceChoice(DIRECT, "recorded series stale by 17 minutes"),
            id="every series last seen 17 minutes ago: stale",
        ),
        pytest.param(
            "one stale",
            SourceChoice(DIRECT, "slo:error_ratio:6h stale by 1 minute"),
            id="one series a minute late: that one named",
        ),
        pytest.param(
            "stale and missing",
            SourceChoice(
                DIRECT,
                "slo:error_ratio:period stale by 5 minutes; recorded series missing: "
                "slo:error_ratio:5m",
            ),
            id="one stale, one missing: both said",
        ),
    ],
)
def test_choose_source(case: str, expected: SourceChoice) -> None:
    chosen = slo()
    present = every(chosen)
    seen: dict[tuple[str, str, str], float] = {}
    at = 1_800_000_000.0
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
    elif case == "stale":
        seen = dict.fromkeys(present, at - 17 * 60)
        present = set()
    elif case == "one stale":
        present = every(chosen, but="slo:error_ratio:6h")
        seen = {("slo:error_ratio:6h", "api", "availability"): at - 60}
    elif case == "stale and missing":
        present = {
            p for p in present if p[0] not in ("slo:error_ratio:period", "slo:error_ratio:5m")
        }
        seen = {("slo:error_ratio:period", "api", "availability"): at - 300}
    assert choose_source(chosen, present, seen, at) == expected


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
