"""SLO definitions: ops/v1 and OpenSLO into one model; every error names file and YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import LatencySLI, RatioSLI, RawSLI
from ops_toolkit.slo.queries import count_queries
from ops_toolkit.slo.spec import load_slo_files, load_slos, parse_slo_file
from tests.conftest import ROOT

BASE = """version: ops/v1
service: search
runbook: runbooks/search-errors.md
labels: {team: search}
slos:
  - name: availability
    objective: 99.9
    window: 28d
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""


def test_an_ops_v1_file_maps_to_the_model() -> None:
    parsed = parse_slo_file(BASE, "slos/search.yaml")
    (slo,) = parsed.slos
    assert (slo.service, slo.name, slo.objective, slo.window.seconds) == (
        "search",
        "availability",
        99.9,
        28 * 86400,
    )
    assert slo.sli == RatioSLI(total="http_requests_total", bad='http_requests_total{code=~"5.."}')
    assert slo.budget == pytest.approx(0.001)
    assert slo.runbook == "runbooks/search-errors.md"
    assert dict(slo.labels) == {"team": "search"}
    assert slo.place == "slos/search.yaml: slos[0]"


def test_the_worked_example_validates() -> None:
    slos = load_slos([str(ROOT / "slos")])
    assert [s.key for s in slos] == [
        "search/availability",
        "search/answer-latency",
        "search/answer-accuracy",
        "search/ingestion-freshness",
    ]
    assert isinstance(slos[1].sli, LatencySLI) and slos[1].sli.le == "1.5"
    assert slos[3].window.calendar == "month"
    for slo in slos:
        assert slo.runbook and (ROOT / slo.runbook).is_file()


def replace(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            replace("objective: 99.9", "objective: 99.9%"),
            "f.yaml: slos[0].objective: expected a number between 0 and 100 (exclusive), "
            "got '99.9%'",
            id="objective as a percent string",
        ),
        pytest.param(
            replace("objective: 99.9", "objective: 100"),
            "f.yaml: slos[0].objective: expected a number between 0 and 100 (exclusive), got 100",
            id="objective of 100",
        ),
        pytest.param(
            replace("        total: http", "        good: x\n        total: http"),
            "f.yaml: slos[0].sli.ratio: give exactly one of 'good' or 'bad', not both",
            id="good and bad",
        ),
        pytest.param(
            replace("      ratio:", "      ratoi:"),
            "f.yaml: slos[0].sli: unknown SLI kind 'ratoi' (did you mean 'ratio'?) (valid: "
            "ratio, latency, raw)",
            id="unknown SLI kind",
        ),
        pytest.param(
            replace("    objective:", "    objetive: 1\n    objective:"),
            "f.yaml: slos[0].objetive: unknown key (did you mean 'objective'?); valid keys: "
            "name, objective, window, calendar, timezone, description, sli, runbook, labels, "
            "alerting, corrections",
            id="unknown key",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    labels: {service: checkout}"),
            "f.yaml: slos[0].labels.service: ops sets 'service' on every series it generates "
            "(the SLO's service); rename this label, e.g. to 'service_name'",
            id="a label ops sets on every series",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {windows: []}"),
            "f.yaml: slos[0].alerting.windows: is empty; give at least one window pair or leave "
            "'windows' out",
            id="empty window set",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 1h, short: 5m, "
                "factor: 0.5}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].factor: expected a burn rate of at least 1, got "
            "0.5: below 1 the budget lasts the period, so the alert would fire while the SLO is met",
            id="a factor that fires while the budget lasts",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 1h, short: 2m, "
                "factor: 14}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].short: expected at least 5m (the resolution of "
            "the recorded event counts), got 2m",
            id="short window under 5m",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 1h, short: 2h, "
                "factor: 14}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].short: must not be longer than the long window "
            "(1h), got 2h",
            id="short longer than long",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 29d, short: 1d, "
                "factor: 1}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].long: must not be longer than the SLO's 28d "
            "window, got 29d",
            id="long longer than the period",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: pager, long: 1h, short: 5m, "
                "factor: 14}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].severity: expected page or ticket, got 'pager'",
            id="unknown severity",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 1h, short: 5m, "
                "factor: 14, for: 90s}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].for: expected whole minutes, got '90s'",
            id="for in seconds",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {min_events: -1}"),
            "f.yaml: slos[0].alerting.min_events: expected a whole number of events (0: off), "
            "got '-1'",
            id="negative min_events",
        ),
        pytest.param(
            replace(
                "window: 28d",
                "window: 28d\n    alerting: {windows: [{severity: page, long: 1h, short: 5m, "
                "factor: .inf}]}",
            ),
            "f.yaml: slos[0].alerting.windows[0].factor: expected a burn rate like 14.4, got 'inf'",
            id="an infinite factor",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {page: {name: 'Search Page'}}"),
            "f.yaml: slos[0].alerting.page.name: expected an alert name like "
            "SearchAvailabilityPage, got 'Search Page'",
            id="alert name with a space",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {ticket: {labels: {tier: x}}}"),
            "f.yaml: slos[0].alerting.ticket.labels.tier: not a usable name (service, slo, tier, "
            "long, short, missing, alertname are set by ops)",
            id="a tier label would break inhibition",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {page: {disable: 'yes'}}"),
            "f.yaml: slos[0].alerting.page.disable: expected true or false, got 'yes'",
            id="disable as a string",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    alerting: {no_data: 'no'}"),
            "f.yaml: slos[0].alerting.no_data: expected true or false, got 'no'",
            id="no_data as a string",
        ),
        pytest.param(
            replace("window: 28d", "window: 4 weeks"),
            "f.yaml: slos[0].window: expected a duration like 30d or 28d, got '4 weeks'",
            id="bad window",
        ),
        pytest.param(
            replace("window: 28d", "window: 28d\n    calendar: month"),
            "f.yaml: slos[0].calendar: give either 'window' (rolling) or 'calendar', not both",
            id="window and calendar",
        ),
        pytest.param(
            replace("window: 28d", "calendar: month\n    timezone: Mars/Olympus"),
            "f.yaml: slos[0].timezone: unknown time zone 'Mars/Olympus' (e.g. UTC, Europe/Berlin)",
            id="bad time zone",
        ),
        pytest.param(
            replace("version: ops/v1", "version: ops/v2"),
            "f.yaml: version: unknown format 'ops/v2' (did you mean 'ops/v1'?) (known: ops/v1, "
            "openslo/v1, openslo/v1alpha, prometheus/v1, sloth.slok.dev/v1, pyrra.dev/v1alpha1)",
            id="version",
        ),
        pytest.param(
            BASE + "  - name: availability\n    objective: 99\n    sli: {raw: "
            "{bad_query: 'x[{{window}}]', total_query: 'y[{{window}}]'}}\n",
            "f.yaml: slos[1].name: duplicate SLO name 'availability' (first at slos[0])",
            id="duplicate SLO names",
        ),
        pytest.param(
            replace('bad: http_requests_total{code=~"5.."}', "bad: rate(x[5m])"),
            "f.yaml: slos[0].sli.ratio.bad: not a series selector: column 5 of 'rate(x[5m])': "
            "rate(...) is a function call, not a series selector",
            id="not a selector",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(x)', total_query: 'sum(y[{{window}}])'}\n",
            ),
            "f.yaml: slos[0].sli.raw.bad_query: must contain {{window}} where the range "
            "goes, e.g. [{{window}}]",
            id="raw without window",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(increase(x[{{window}}]))', total_query: 'sum(increase(y[{{window}}])) # all requests'}\n",
            ),
            "f.yaml: slos[0].sli.raw.total_query: has a '#' comment at column 30; ops wraps and joins queries, so a comment would swallow what follows: remove it",
            id="raw query with a # comment (was: rules promtool refuses, a whole report batch invalid)",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(increase(x[{{window}}])) or vector(1))', total_query: 'sum(y[{{window}}])'}\n",
            ),
            "f.yaml: slos[0].sli.raw.bad_query: has a ')' at column 42 that closes nothing",
            id="raw query closing ops's sum() wrapper",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(increase(x[{{window}}])', total_query: 'sum(y[{{window}}])'}\n",
            ),
            "f.yaml: slos[0].sli.raw.bad_query: has a '(' at column 4 that is never closed",
            id="raw query with an unclosed bracket",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(increase(x{a=\"b}[{{window}}]))', total_query: 'sum(y[{{window}}])'}\n",
            ),
            "f.yaml: slos[0].sli.raw.bad_query: has a string opened at column 18 that is never closed",
            id="raw query with an unclosed string",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      raw: {bad_query: 'sum(increase(x[{{window}})])', total_query: 'sum(y[{{window}}])'}\n",
            ),
            "f.yaml: slos[0].sli.raw.bad_query: has a ')' at column 26 that does not match the '[' at column 15",
            id="raw query with crossed brackets",
        ),
        pytest.param(
            replace(
                '      ratio:\n        bad: http_requests_total{code=~"5.."}\n'
                "        total: http_requests_total\n",
                "      latency: {histogram: d_bucket, below: 1}\n",
            ),
            "f.yaml: slos[0].sli.latency.histogram: expected the histogram's metric name "
            "without _bucket, got 'd_bucket'",
            id="latency with _bucket",
        ),
        pytest.param(
            "version: ops/v1\nservice: s\nslos: [\n",
            "f.yaml:4: not valid YAML: did not find expected node content",
            id="YAML syntax names the line",
        ),
        pytest.param(
            replace("service: search", "service: Search API"),
            "f.yaml: service: expected lowercase letters, digits and '-', got 'Search API'",
            id="service name",
        ),
    ],
)
def test_bad_definitions_name_file_and_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
  annotations: {ops-toolkit/runbook: runbooks/search-errors.md}
spec:
  service: search
  description: Non-5xx answers
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - displayName: good
      target: 0.995
  indicator:
    metadata: {name: availability-sli}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code!~"5.."}'}}
        total:
          metricSource: {type: Prometheus, spec: {query: http_requests_total}}
---
apiVersion: openslo/v1
kind: Service
metadata: {name: search}
spec: {description: Document search}
"""


def test_openslo_documents_map_to_the_same_model() -> None:
    (slo,) = parse_slo_file(OPENSLO, "o.yaml").slos
    assert (slo.service, slo.name, slo.objective, slo.window.seconds) == (
        "search",
        "availability",
        99.5,
        28 * 86400,
    )
    assert slo.sli == RatioSLI(total="http_requests_total", good='http_requests_total{code!~"5.."}')
    assert slo.runbook == "runbooks/search-errors.md"


def test_openslo_calendar_window() -> None:
    text = OPENSLO.replace(
        "    - duration: 28d\n      isRolling: true",
        "    - duration: 1M\n      isRolling: false\n      calendar: "
        "{startTime: '2026-01-01 00:00:00', timeZone: Europe/Berlin}",
    )
    (slo,) = parse_slo_file(text, "o.yaml").slos
    assert (slo.window.calendar, slo.window.timezone) == ("month", "Europe/Berlin")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "budgetingMethod: Occurrences",
            "budgetingMethod: Timeslice",
            "o.yaml: [0].spec.budgetingMethod: expected one of Occurrences, Timeslices, "
            "RatioTimeslices, got 'Timeslice'",
            id="unknown budgeting method",
        ),
        pytest.param(
            "  indicator:\n",
            "  indicatorRef: availability-sli\n  indicator:\n",
            "o.yaml: [0].spec: give exactly one of 'indicator' or 'indicatorRef'",
            id="indicator and indicatorRef",
        ),
        pytest.param(
            "type: Prometheus, spec: {query: http",
            "type: Datadog, spec: {query: http",
            "o.yaml: [0].spec.indicator.spec.ratioMetric.total.metricSource.type: data source "
            "type 'Datadog' is not supported: ops queries Prometheus-compatible APIs "
            "(Prometheus, Thanos, Cortex, Mimir, VictoriaMetrics)",
            id="other data source",
        ),
        pytest.param(
            "target: 0.995",
            "target: 99.5",
            "o.yaml: [0].spec.objectives[0].target: expected a number between 0 and 1 "
            "(exclusive), got '99.5'",
            id="target as percent",
        ),
    ],
)
def test_unsupported_openslo_is_an_error_naming_the_field(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(OPENSLO.replace(old, new), "o.yaml")
    assert str(raised.value) == message


def test_the_same_slo_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE)
    (tmp_path / "b.yaml").write_text(BASE)
    with pytest.raises(ConfigError) as raised:
        load_slo_files([str(tmp_path)])
    assert str(raised.value) == (
        f"{tmp_path}/b.yaml: slos[0]: SLO search/availability is also defined in "
        f"{tmp_path}/a.yaml: slos[0]"
    )


@pytest.mark.parametrize(
    ("sli", "expected"),
    [
        pytest.param(
            RatioSLI(total="t", bad='b{c="5"}'),
            ("bad", 'sum(increase(b{c="5"}[1h]))', "sum(increase(t[1h]))"),
            id="ratio bad",
        ),
        pytest.param(
            LatencySLI("d", '{s="a"}', 0.25),
            (
                "good",
                'sum(increase(d_bucket{s="a",le="0.25"}[1h]))',
                'sum(increase(d_count{s="a"}[1h]))',
            ),
            id="latency",
        ),
        pytest.param(
            LatencySLI("d", "{}", 1.0),
            (
                "good",
                'sum(increase(d_bucket{le=~"1|1[.]0"}[1h]))',
                "sum(increase(d_count{}[1h]))",
            ),
            id="latency without labels, a whole bound in both spellings (Prometheus 3: 1.0)",
        ),
        pytest.param(
            RawSLI("sum(x[{{window}}])", "sum(y[{{window}}])"),
            ("bad", "sum(sum(x[1h]))", "sum(sum(y[1h]))"),
            id="raw",
        ),
    ],
)
def test_count_queries(sli: RatioSLI | LatencySLI | RawSLI, expected: tuple[str, str, str]) -> None:
    assert count_queries(sli, "1h") == expected
