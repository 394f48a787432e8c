"""OpenSLO v1 and v1alpha into the model: every kind, method and window; errors name the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import BurnCondition, LatencySLI, RatioSLI, RawSLI, Window
from ops_toolkit.slo.spec import load_slo_files, load_slos, parse_slo_file

FIXTURES = Path(__file__).parent / "fixtures" / "openslo"
DAY = 86400

SLO = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource: {type: Prometheus, spec: {query: 'requests_total{code=~"5.."}'}}
        total:
          metricSource: {type: Prometheus, spec: {query: requests_total}}
  objectives:
    - target: 0.995
"""


# OpenSLO's composite SLO: an indicator per objective, weighted.
COMPOSITE = SLO[: SLO.index("  indicator:")] + (
    "  objectives:\n"
    "    - {target: 0.995, compositeWeight: 2, indicatorRef: checkout-errors}\n"
    "    - {target: 0.99, compositeWeight: 1, indicatorRef: checkout-latency}\n"
)


def slo(old: str, new: str, base: str = SLO) -> str:
    assert old in base, old
    return base.replace(old, new)


def only(text: str) -> tuple[str, RatioSLI | LatencySLI | RawSLI, Window]:
    (parsed,) = parse_slo_file(text, "f.yaml").slos
    return parsed.name, parsed.sli, parsed.window


def test_the_fixtures_load_across_files() -> None:
    files = load_slo_files([str(FIXTURES)])
    # slis.yaml holds only an SLI and alert objects: it serves references, adds no SLOs.
    assert [Path(f.source).name for f in files] == ["alpha.yaml", "methods.yaml", "search.yaml"]
    search = {s.name: s for s in files[2].slos}
    availability = search["availability"]
    assert availability.datasource == "http://127.0.0.1:9090"
    assert availability.runbook == "runbooks/search-errors.md"
    assert dict(availability.labels) == {"team": "search"}
    assert availability.alerting.conditions == (
        BurnCondition("fast-burn", "page", 14.4, 3600, 300, ("search-oncall",)),
    )
    assert search["answer-accuracy-helpful"].sli == RatioSLI(
        total='search_answer_feedback_total{service="search-api"}',
        good='search_answer_feedback_total{service="search-api",rating="helpful"}',
    )
    assert search["answer-accuracy-mostly-helpful"].objective == 85.0
    assert search["answer-latency"].sli == LatencySLI(
        "http_request_duration_seconds", '{service="search-api"}', 1.5
    )


def test_an_indicator_ref_needs_the_file_holding_the_sli() -> None:
    with pytest.raises(ConfigError) as raised:
        load_slos([str(FIXTURES / "search.yaml")])
    assert str(raised.value) == (
        f"{FIXTURES}/search.yaml: [2].spec.alertPolicies[0].alertPolicyRef: no AlertPolicy "
        "named 'search-page' in the files given"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("28d", "1w", Window(7 * DAY), id="rolling 1w"),
        pytest.param("28d", "2w", Window(14 * DAY), id="rolling 2w"),
        pytest.param("28d", "1M", Window(30 * DAY), id="rolling 1M counts 30 days"),
        pytest.param("28d", "1Q", Window(90 * DAY), id="rolling 1Q counts 90 days"),
        pytest.param("28d", "1Y", Window(365 * DAY), id="rolling 1Y counts 365 days"),
        pytest.param("28d", "36h", Window(36 * 3600), id="rolling hours"),
        pytest.param(
            "      isRolling: true",
            "      isRolling: false",
            Window(0, "day", count=28),
            id="calendar days",
        ),
        pytest.param(
            "    - duration: 28d\n      isRolling: true",
            "    - duration: 1M\n      calendar: {timeZone: America/New_York}",
            Window(0, "month", "America/New_York"),
            id="calendar month, isRolling implied",
        ),
        pytest.param(
            "    - duration: 28d\n      isRolling: true",
            "    - duration: 1Y\n      isRolling: false\n"
            "      calendar: {startTime: 2026-04-01 00:00:00, timeZone: UTC}",
            Window(0, "year", start="2026-04-01T00:00:00"),
            id="calendar year from a start time",
        ),
        pytest.param(
            "    - duration: 28d\n      isRolling: true",
            "    - duration: 1Q\n      isRolling: false\n"
            "      calendar: {startTime: '2026-02-01 12:30:00'}",
            Window(0, "quarter", start="2026-02-01T12:30:00"),
            id="calendar quarter, start time quoted",
        ),
        pytest.param(
            "  timeWindow:\n    - duration: 28d\n      isRolling: true\n",
            "",
            Window(30 * DAY),
            id="no time window is 30 days rolling",
        ),
    ],
)
def test_time_windows(old: str, new: str, expected: Window) -> None:
    assert only(slo(old, new))[2] == expected


BAD = 'requests_total{code=~"5.."}'
TOTAL = "requests_total"


@pytest.mark.parametrize(
    ("text", "sli"),
    [
        pytest.param(
            slo(f"query: '{BAD}'", f"query: 'sum by (route) ({BAD})'"),
            RatioSLI(total=TOTAL, bad=BAD),
            id="sum by over a counter is the counter",
        ),
        pytest.param(
            slo(f"query: '{BAD}'", f"query: 'sum(sum without (pod) ({BAD}))'"),
            RatioSLI(total=TOTAL, bad=BAD),
            id="nested sums over a counter are the counter",
        ),
        pytest.param(
            slo("counter: true", "counter: false"),
            RawSLI(
                f"(sum(sum_over_time(({BAD})[{{{{window}}}}:1m])) or vector(0))",
                f"sum(sum_over_time(({TOTAL})[{{{{window}}}}:1m]))",
            ),
            id="counter false sums a gauge sampled each minute",
        ),
        pytest.param(
            slo("budgetingMethod: Occurrences", "budgetingMethod: Timeslices").replace(
                "    - target: 0.995",
                "    - target: 0.995\n      timeSliceTarget: 0.95\n      timeSliceWindow: 10m",
            ),
            RawSLI(
                f"sum_over_time((((sum(increase({BAD}[10m])) or vector(0)) / "
                f"(sum(increase({TOTAL}[10m])) > 0)) > bool 0.05)[{{{{window}}}}:10m])",
                f"count_over_time((sum(increase({TOTAL}[10m])) > 0)[{{{{window}}}}:10m])",
            ),
            id="timeslices count bad slices among slices with events",
        ),
        pytest.param(
            slo("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices").replace(
                "    - target: 0.995", "    - target: 0.995\n      timeSliceWindow: 2"
            ),
            RawSLI(
                f"sum_over_time(((sum(increase({BAD}[2m])) or vector(0)) / "
                f"(sum(increase({TOTAL}[2m])) > 0))[{{{{window}}}}:2m])",
                f"count_over_time((sum(increase({TOTAL}[2m])) > 0)[{{{{window}}}}:2m])",
            ),
            id="ratio timeslices average the slices' ratios; a bare number is minutes",
        ),
        pytest.param(
            slo(
                "        bad:\n"
                f"          metricSource: {{type: Prometheus, spec: {{query: '{BAD}'}}}}\n"
                "        total:\n"
                "          metricSource: {type: Prometheus, spec: {query: requests_total}}\n",
                "        rawType: success\n"
                "        raw:\n"
                "          metricSource: {type: Prometheus, spec: {query: 'slo:sli:ratio'}}\n",
            ),
            RawSLI(
                "sum_over_time((1 - (slo:sli:ratio))[{{window}}:1m])",
                "count_over_time((slo:sli:ratio)[{{window}}:1m])",
            ),
            id="a raw success ratio: each minute one event",
        ),
    ],
)
def test_indicators_become_promql(text: str, sli: RatioSLI | RawSLI) -> None:
    assert only(text)[1] == sli


THRESHOLD = slo(
    "      ratioMetric:\n"
    "        counter: true\n"
    "        bad:\n"
    f"          metricSource: {{type: Prometheus, spec: {{query: '{BAD}'}}}}\n"
    "        total:\n"
    "          metricSource: {type: Prometheus, spec: {query: requests_total}}\n",
    "      thresholdMetric:\n"
    "        metricSource: {type: Prometheus, spec: {query: 'p99_seconds'}}\n",
).replace("    - target: 0.995", "    - target: 0.995\n      op: lt\n      value: 0.5")


def test_a_threshold_metric_counts_minutes_that_miss_it() -> None:
    assert only(THRESHOLD)[1] == RawSLI(
        "sum_over_time(((p99_seconds) >= bool 0.5)[{{window}}:1m])",
        "count_over_time((p99_seconds)[{{window}}:1m])",
    )


def test_several_objectives_are_several_slos() -> None:
    text = slo(
        "    - target: 0.995",
        "    - target: 0.995\n    - displayName: Relaxed!\n      target: 0.99\n    - targetPercent: 98",
    )
    parsed = parse_slo_file(text, "f.yaml").slos
    assert [(s.name, s.objective, s.path) for s in parsed] == [
        ("checkout-0", 99.5, "spec.objectives[0]"),
        ("checkout-relaxed", 99.0, "spec.objectives[1]"),
        ("checkout-2", 98.0, "spec.objectives[2]"),
    ]


def test_inline_alert_policies_and_targets() -> None:
    text = SLO + (
        "  alertPolicies:\n"
        "    - kind: AlertPolicy\n"
        "      metadata: {name: slow}\n"
        "      spec:\n"
        "        conditions:\n"
        "          - kind: AlertCondition\n"
        "            metadata: {name: slow-burn}\n"
        "            spec:\n"
        "              severity: ticket\n"
        "              condition: {kind: burnrate, threshold: 1, lookbackWindow: 3d}\n"
        "        notificationTargets:\n"
        "          - kind: AlertNotificationTarget\n"
        "            metadata: {name: shop-tickets}\n"
        "            spec: {target: jira}\n"
    )
    (parsed,) = parse_slo_file(text, "f.yaml").slos
    assert parsed.alerting.conditions == (
        BurnCondition("slow-burn", "ticket", 1.0, 3 * DAY, 0, ("shop-tickets",)),
    )


def test_v1alpha_windows_and_ratio_metrics() -> None:
    alpha = (FIXTURES / "alpha.yaml").read_text()
    availability, threshold = parse_slo_file(alpha, "a.yaml").slos
    assert availability.window == Window(28 * DAY)
    assert availability.sli == RatioSLI(
        total='http_requests_total{service="search-api"}',
        good='http_requests_total{service="search-api",code!~"5.."}',
    )
    assert threshold.window == Window(28 * DAY)
    assert isinstance(threshold.sli, RawSLI)
    assert threshold.sli.bad_query.endswith("> bool 0.01)[{{window}}:1m])")


DATASOURCE = """apiVersion: openslo/v1
kind: DataSource
metadata: {name: metrics}
spec:
  type: Prometheus
  connectionDetails: {url: 'http://127.0.0.1:9090'}
---
"""

RAW = (
    "        rawType: failure\n"
    "        raw:\n"
    "          metricSource: {type: Prometheus, spec: {query: 'x'}}\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            slo("query: requests_total}", "query: 'sum(rate(requests_total[5m]))'}"),
            "f.yaml: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: cannot be "
            "evaluated over a window: 'sum(rate(requests_total[5m]))' is already a rate or "
            "increase over a fixed range; with counter: true give the counter's selector "
            "(optionally in sum(...)) and ops counts it over each window",
            id="a rate over a fixed range",
        ),
        pytest.param(
            slo("query: requests_total}", "query: 'a_total + b_total'}"),
            "f.yaml: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: cannot be "
            "evaluated over a window: 'a_total + b_total' is not a counter selector (column 9 "
            "of 'a_total + b_total': expected the end after the metric name, got '+'); with "
            "counter: true give a selector, optionally in sum(...) or sum by (...) (...); for a "
            "gauge of events set counter: false",
            id="arithmetic over counters",
        ),
        pytest.param(
            slo(
                "type: Prometheus, spec: {query: requests_total}",
                "type: Datadog, spec: {query: requests_total}",
            ),
            "f.yaml: spec.indicator.spec.ratioMetric.total.metricSource.type: data source type "
            "'Datadog' is not supported: ops queries Prometheus-compatible APIs (Prometheus, "
            "Thanos, Cortex, Mimir, VictoriaMetrics)",
            id="Datadog",
        ),
        pytest.param(
            DATASOURCE.replace("Prometheus", "AppDynamics") + SLO,
            "f.yaml: [0].spec.type: data source type 'AppDynamics' is not supported: ops queries "
            "Prometheus-compatible APIs (Prometheus, Thanos, Cortex, Mimir, VictoriaMetrics)",
            id="an AppDynamics data source",
        ),
        pytest.param(
            slo(
                "{type: Prometheus, spec: {query: requests_total}}",
                "{metricSourceRef: nowhere, spec: {query: requests_total}}",
            ),
            "f.yaml: spec.indicator.spec.ratioMetric.total.metricSource.metricSourceRef: no "
            "DataSource named 'nowhere' in the files given",
            id="a missing data source",
        ),
        pytest.param(
            DATASOURCE.replace("'http://127.0.0.1:9090'", "127.0.0.1:9090") + SLO,
            "f.yaml: [0].spec.connectionDetails.url: expected an http(s) URL, got '127.0.0.1:9090'",
            id="a URL without scheme",
        ),
        pytest.param(
            DATASOURCE.replace("{url:", "{token: x, url:") + SLO,
            "f.yaml: [0].spec.connectionDetails.token: unknown key; valid keys: url",
            id="connection details ops does not use",
        ),
        pytest.param(
            slo("kind: SLO", "kind: SLOs"),
            "f.yaml: kind: unknown openslo/v1 kind 'SLOs' (valid: SLO, SLI, Service, "
            "DataSource, AlertPolicy, AlertCondition, AlertNotificationTarget)",
            id="an unknown kind",
        ),
        pytest.param(
            slo("  budgetingMethod:", "  budgetMethod: x\n  budgetingMethod:"),
            "f.yaml: spec.budgetMethod: unknown key (did you mean 'budgetingMethod'?); valid "
            "keys: service, description, indicator, indicatorRef, timeWindow, budgetingMethod, "
            "objectives, alertPolicies",
            id="an unknown key",
        ),
        pytest.param(
            slo("        counter: true\n", ""),
            "f.yaml: spec.indicator.spec.ratioMetric.counter: expected true or false, got nothing",
            id="counter is required",
        ),
        pytest.param(
            slo("        counter: true\n", "        counter: true\n" + RAW),
            "f.yaml: spec.indicator.spec.ratioMetric.bad: give either 'raw' or good/bad and "
            "total, not both",
            id="raw with good or bad",
        ),
        pytest.param(
            THRESHOLD.replace("      op: lt\n", ""),
            "f.yaml: spec.objectives[0].op: expected one of lte, lt, gte, gt, got nothing",
            id="a threshold without op",
        ),
        pytest.param(
            THRESHOLD + "    - target: 0.9\n      op: lt\n      value: 1\n",
            "f.yaml: spec.objectives: a thresholdMetric takes exactly one objective (OpenSLO), "
            "got 2",
            id="a threshold with two objectives",
        ),
        pytest.param(
            slo("    - target: 0.995", "    - target: 0.995\n      op: lt"),
            "f.yaml: spec.objectives[0].op: is only for a thresholdMetric",
            id="op on a ratio",
        ),
        pytest.param(
            slo("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
            "f.yaml: spec.objectives[0].timeSliceWindow: is required for the Timeslices "
            "budgeting methods, e.g. 1m or 5",
            id="timeslices without a slice",
        ),
        pytest.param(
            slo("budgetingMethod: Occurrences", "budgetingMethod: Timeslices").replace(
                "    - target: 0.995",
                "    - target: 0.995\n      timeSliceTarget: 1.5\n      timeSliceWindow: 1m",
            ),
            "f.yaml: spec.objectives[0].timeSliceTarget: expected a number in (0, 1], got '1.5'",
            id="a slice target above 1",
        ),
        pytest.param(
            slo("    - target: 0.995", "    - target: 0.995\n      timeSliceWindow: 1m"),
            "f.yaml: spec.objectives[0].timeSliceWindow: is only for the Timeslices budgeting "
            "methods",
            id="a slice with Occurrences",
        ),
        pytest.param(
            slo("    - target: 0.995", "    - target: 0.995\n      targetPercent: 99.5"),
            "f.yaml: spec.objectives[0]: give either 'target' (0-1) or 'targetPercent', not both",
            id="target and targetPercent",
        ),
        pytest.param(
            slo("28d", "4 weeks"),
            "f.yaml: spec.timeWindow[0].duration: expected a duration like 28d, 4w, 1M, 1Q or 1Y "
            "(a number and one of m h d w M Q Y), got '4 weeks'",
            id="a duration in words",
        ),
        pytest.param(
            slo("      isRolling: true", "      isRolling: false").replace("28d", "12h"),
            "f.yaml: spec.timeWindow[0].duration: calendar windows count days, weeks, months, "
            "quarters or years, got '12h'",
            id="a calendar window of hours",
        ),
        pytest.param(
            slo(
                "      isRolling: true", "      isRolling: false\n      calendar: {startTime: soon}"
            ),
            "f.yaml: spec.timeWindow[0].calendar.startTime: expected a local date and time like "
            "2026-01-01 00:00:00, got 'soon'",
            id="a start time that is not a time",
        ),
        pytest.param(
            slo("      isRolling: true", "      isRolling: true\n    - duration: 7d"),
            "f.yaml: spec.timeWindow: expected exactly one time window (OpenSLO), got 2",
            id="two time windows",
        ),
        pytest.param(
            slo("query: requests_total}", "query: 'requests_total[{{window}}]'}"),
            "f.yaml: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: templates "
            "are not OpenSLO; give plain PromQL",
            id="a template",
        ),
        pytest.param(
            slo("  name: checkout\n", "  name: checkout\n  labels: {team.name: shop}\n"),
            "f.yaml: metadata.labels.team.name: not a usable Prometheus label name (letters, "
            "digits and '_', not first a digit)",
            id="a label name Prometheus refuses",
        ),
        pytest.param(
            SLO + "  alertPolicies:\n    - kind: AlertPolicy\n      metadata: {name: p}\n"
            "      spec:\n        conditions:\n          - metadata: {name: c}\n"
            "            spec: {severity: page, condition: {kind: anomaly, threshold: 1, "
            "lookbackWindow: 1h}}\n",
            "f.yaml: spec.alertPolicies[0].spec.conditions[0].spec.condition.kind: only burnrate "
            "conditions are supported, got 'anomaly'",
            id="an alert condition that is not a burn rate",
        ),
        pytest.param(
            SLO + "---\n" + SLO.replace("service: shop", "service: cart"),
            "f.yaml: one file per service, found cart, shop",
            id="two services",
        ),
        pytest.param(
            SLO + "---\n" + SLO,
            "f.yaml: [1]: duplicate SLO 'shop/checkout' (first at [0])",
            id="the same SLO twice",
        ),
        pytest.param(
            SLO + "---\n" + SLO.replace("openslo/v1", "openslo/v2"),
            "f.yaml: [1].apiVersion: expected openslo/v1 or openslo/v1alpha (in one file), got "
            "'openslo/v2'",
            id="another version in the same file",
        ),
        pytest.param(
            slo("openslo/v1", "openslo/v1alpha").replace("kind: SLO", "kind: SLI"),
            "f.yaml: kind: unknown openslo/v1alpha kind 'SLI' (valid: SLO, Service)",
            id="a v1 kind in v1alpha",
        ),
        pytest.param(
            (FIXTURES / "alpha.yaml").read_text().replace("unit: Day", "unit: Days"),
            "f.yaml: [1].spec.timeWindows[0].unit: expected one of Minute, Hour, Day, Week, "
            "Month, Quarter, Year, got 'Days'",
            id="a v1alpha unit",
        ),
        pytest.param(
            (FIXTURES / "alpha.yaml")
            .read_text()
            .replace("source: prometheus\n", "source: datadog\n", 1),
            "f.yaml: [1].spec.objectives[0].ratioMetrics.good.source: data source type "
            "'datadog' is not supported: ops queries Prometheus-compatible APIs (Prometheus, "
            "Thanos, Cortex, Mimir, VictoriaMetrics)",
            id="a v1alpha source",
        ),
        pytest.param(
            COMPOSITE,
            "f.yaml: spec.objectives[0].indicatorRef: composite SLOs (an indicator per "
            "objective, compositeWeight) are not supported: give the SLO one spec.indicator or "
            "spec.indicatorRef, or one SLO per indicator",
            id="a composite SLO",
        ),
    ],
)
def test_bad_openslo_names_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


def test_a_file_of_slis_alone_is_not_an_slo_file() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file((FIXTURES / "slis.yaml").read_text(), "s.yaml")
    assert str(raised.value) == "s.yaml: no SLO in this file (OpenSLO: no document of kind SLO)"


def test_errors_can_be_collected_per_file(tmp_path: Path) -> None:
    """``ops check`` reads all files together (references) and reports each bad one."""
    for name in ("search.yaml", "slis.yaml"):
        (tmp_path / name).write_text((FIXTURES / name).read_text())
    (tmp_path / "bad.yaml").write_text(slo("kind: SLO", "kind: SLOs"))
    (tmp_path / "twice.yaml").write_text((FIXTURES / "slis.yaml").read_text())
    errors: list[ConfigError] = []
    files = load_slo_files([str(tmp_path)], errors)
    assert [Path(f.source).name for f in files] == ["search.yaml"]
    assert [str(e) for e in errors] == [
        f"{tmp_path}/twice.yaml: [{index}].metadata.name: {kind} {name!r} is also defined at "
        f"{tmp_path}/slis.yaml: [{index}]"
        for index, (kind, name) in enumerate(
            [
                ("SLI", "answer-helpful"),
                ("AlertPolicy", "search-page"),
                ("AlertCondition", "fast-burn"),
                ("AlertNotificationTarget", "search-oncall"),
            ]
        )
    ] + [
        f"{tmp_path}/bad.yaml: kind: unknown openslo/v1 kind 'SLOs' (valid: SLO, SLI, Service, "
        "DataSource, AlertPolicy, AlertCondition, AlertNotificationTarget)"
    ]


HUGE = "9" * 400
CUT = "'" + "9" * 36 + "..."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            slo("target: 0.995", f"targetPercent: {HUGE}"),
            "f.yaml: spec.objectives[0].targetPercent: expected a number between 0 and 100 "
            f"(exclusive), got {CUT}",
            id="a 400-digit target percent is an error, not an OverflowError",
        ),
        pytest.param(
            THRESHOLD.replace("value: 0.5", f"value: {HUGE}"),
            f"f.yaml: spec.objectives[0].value: expected a finite number, got {CUT}",
            id="a 400-digit threshold",
        ),
        pytest.param(
            THRESHOLD.replace("value: 0.5", "value: .nan"),
            "f.yaml: spec.objectives[0].value: expected a finite number, got 'nan'",
            id="a NaN threshold",
        ),
        pytest.param(
            slo("28d", HUGE[:40] + "d"),
            f"f.yaml: spec.timeWindow[0].duration: expected at most 3650d (ten years), got {CUT}",
            id="a window of 10^40 days",
        ),
        pytest.param(
            slo("28d", "121Q").replace("isRolling: true", "isRolling: false"),
            "f.yaml: spec.timeWindow[0].duration: expected at most 3650d (ten years), got '121Q'",
            id="a calendar of 121 quarters",
        ),
    ],
)
def test_huge_numbers_are_errors_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


# OpenSLO's own layout: an SLI object naming its DataSource by metricSourceRef, and an SLO
# that refers to the SLI by indicatorRef (openslo.com, "SLI" and "DataSource" examples).
DATASOURCE = """apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom
spec:
  type: Prometheus
  connectionDetails:
    url: http://127.0.0.1:9090
"""
SLI_OBJECT = """apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-success
spec:
  ratioMetric:
    counter: true
    good:
      metricSource:
        metricSourceRef: prom
        spec:
          query: requests_total{code!~"5.."}
    total:
      metricSource:
        metricSourceRef: prom
        spec:
          query: requests_total
"""
SLO_BY_REF = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  budgetingMethod: Occurrences
  indicatorRef: checkout-success
  objectives:
    - target: 0.995
"""
CHECKOUT_SUCCESS = RatioSLI(total="requests_total", good='requests_total{code!~"5.."}')


def test_an_sli_object_resolves_its_datasource_ref_in_one_file() -> None:
    text = "---\n".join([DATASOURCE, SLI_OBJECT, SLO_BY_REF])
    (parsed,) = parse_slo_file(text, "f.yaml").slos
    assert (parsed.name, parsed.sli, parsed.datasource) == (
        "checkout",
        CHECKOUT_SUCCESS,
        "http://127.0.0.1:9090",
    )


def test_an_sli_object_resolves_its_datasource_ref_across_files(tmp_path: Path) -> None:
    (tmp_path / "datasources.yaml").write_text(DATASOURCE)
    (tmp_path / "slis.yaml").write_text(SLI_OBJECT)
    (tmp_path / "slo.yaml").write_text(SLO_BY_REF)
    (found,) = load_slo_files([str(tmp_path)])
    (parsed,) = found.slos
    assert (parsed.sli, parsed.datasource) == (CHECKOUT_SUCCESS, "http://127.0.0.1:9090")


def test_an_sli_object_naming_a_missing_datasource_is_refused() -> None:
    text = "---\n".join(
        [SLI_OBJECT.replace("metricSourceRef: prom", "metricSourceRef: thanos"), SLO_BY_REF]
    )
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == (
        "f.yaml: [0].spec.ratioMetric.good.metricSource.metricSourceRef: no DataSource named "
        "'thanos' in the files given"
    )
