"""SLO file formats: each reader maps its format onto the one model; errors name the place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.formats.common import counter_over_window
from ops_toolkit.slo.model import Alerting, LatencySLI, RatioSLI, RawSLI, SeverityAlert
from ops_toolkit.slo.spec import load_slos, parse_slo_file
from ops_toolkit.yamlpath import Node, read_text

FIXTURES = Path(__file__).parent / "fixtures"
DAY = 86400


def fixture(name: str) -> str:
    return read_text(str(FIXTURES / name))


# -- the registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "apiVersion: openslo/v2\nkind: SLO\n",
            "f.yaml: apiVersion: unknown format 'openslo/v2' (did you mean 'openslo/v1'?) (known: "
            "ops/v1, openslo/v1, openslo/v1alpha, prometheus/v1, sloth.slok.dev/v1, "
            "pyrra.dev/v1alpha1)",
            id="an unknown apiVersion lists the known formats",
        ),
        pytest.param(
            "service: s\nslos: []\n",
            "f.yaml: (top): give 'version' (ops/v1, prometheus/v1) or 'apiVersion' (openslo/v1, "
            "sloth.slok.dev/v1, pyrra.dev/v1alpha1)",
            id="a file without a version says which to give",
        ),
        pytest.param(
            "- 1\n- 2\n",
            "f.yaml: [0]: expected a mapping with 'version' or 'apiVersion', got '1'",
            id="a list of scalars is not a format",
        ),
    ],
)
def test_the_format_is_picked_by_version(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


# -- Sloth ----------------------------------------------------------------------------------


def test_a_sloth_file_maps_to_the_model() -> None:
    availability, latency, accuracy = parse_slo_file(
        fixture("sloth/search.yaml"), "sloth.yaml"
    ).slos
    assert (availability.key, availability.objective, availability.window.seconds) == (
        "search-sloth/availability",
        99.9,
        30 * DAY,
    )
    # sum(rate(sel[{{.window}}])) and sum by (route) (...) are counters: a plain ratio.
    assert availability.sli == RatioSLI(
        total='http_requests_total{service="search-api"}',
        bad='http_requests_total{service="search-api",code=~"5.."}',
    )
    assert dict(availability.labels) == {"team": "search", "category": "availability"}
    assert availability.runbook == "https://git.example/runbooks/search-errors.md"
    assert availability.alerting == Alerting(
        name="SearchAvailability",
        labels={"category": "availability"},
        annotations={"runbook_url": "https://git.example/runbooks/search-errors.md"},
        page=SeverityAlert(
            labels={"severity": "critical", "routing_key": "search-oncall"},
            annotations={"summary": "Search availability budget burns fast"},
        ),
        ticket=SeverityAlert(labels={"severity": "warning"}, disable=True),
    )
    # Sloth's latency shape, count minus the bucket over the count, is a latency SLI.
    assert latency.sli == LatencySLI("http_request_duration_seconds", '{service="search-api"}', 1.5)
    assert latency.alerting.page.disable and not latency.alerting.ticket.disable
    # A raw error ratio counts as one event per window whose bad share is the ratio.
    assert isinstance(accuracy.sli, RawSLI)
    assert accuracy.sli.total_query == f"({accuracy.sli.bad_query}) * 0 + 1"
    assert accuracy.alerting.name == "SearchAccuracy"


def test_sloth_kubernetes_objects_map_to_the_model() -> None:
    parsed = parse_slo_file(fixture("sloth/search-k8s.yaml"), "k8s.yaml")
    availability, freshness = parsed.slos
    assert parsed.service == "search-k8s"
    assert availability.sli == RatioSLI(
        total='http_requests_total{service="search-api"}',
        bad='http_requests_total{service="search-api",code=~"5.."}',
    )
    assert availability.place == "k8s.yaml: [0].spec.slos[0]"
    assert availability.alerting.ticket == SeverityAlert(
        labels={"severity": "warning"},
        annotations={"summary": "Search availability budget burns slowly"},
    )
    assert freshness.place == "k8s.yaml: [1].spec.slos[0]"
    assert freshness.description == "Document-pipeline runs that finish on time."
    assert isinstance(freshness.sli, RawSLI)
    assert 'outcome="late"}[{{window}}]' in freshness.sli.bad_query


SLOTH = """version: prometheus/v1
service: shop
slos:
  - name: checkout
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))
"""

SLOTH_K8S = """apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: shop}
spec:
  service: shop
  slos:
    - name: checkout
      objective: 99.5
      sli:
        events:
          errorQuery: sum(rate(requests_total{code=~"5.."}[{{.window}}]))
          totalQuery: sum(rate(requests_total[{{.window}}]))
"""


@pytest.mark.parametrize(
    ("error_query", "sli"),
    [
        pytest.param(
            'sum(rate(a{code=~"5.."}[{{.window}}])) + sum(rate(b_errors[{{.window}}]))',
            RawSLI(
                'sum(increase(a{code=~"5.."}[{{window}}])) + sum(increase(b_errors[{{window}}]))',
                "sum(increase(requests_total[{{window}}]))",
            ),
            id="any other query stays PromQL with rate read as increase",
        ),
        pytest.param(
            "sum(rate(d_count[{{.window}}])) - sum(rate(d_bucket{le='0.5'}[{{.window}}]))",
            RawSLI(
                "sum(increase(d_count[{{window}}])) - sum(increase(d_bucket{le='0.5'}[{{window}}]))",
                "sum(increase(requests_total[{{window}}]))",
            ),
            id="count minus bucket of another histogram than the total is PromQL",
        ),
        pytest.param(
            'sum(irate(a{code=~"5.."}[{{.window}}]))',
            RawSLI(
                'sum(irate(a{code=~"5.."}[{{window}}]))',
                "sum(increase(requests_total[{{window}}]))",
            ),
            id="irate is left alone",
        ),
    ],
)
def test_sloth_queries_that_are_not_counters(error_query: str, sli: RawSLI) -> None:
    text = SLOTH.replace(
        'sum(rate(requests_total{code=~"5.."}[{{.window}}]))',
        f"'{error_query.replace(chr(39), chr(39) * 2)}'",
    )
    (slo,) = parse_slo_file(text, "f.yaml").slos
    assert slo.sli == sli


def sloth(old: str, new: str, base: str = SLOTH) -> str:
    assert old in base
    return base.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            sloth(
                "      events:\n"
                '        error_query: sum(rate(requests_total{code=~"5.."}[{{.window}}]))\n'
                "        total_query: sum(rate(requests_total[{{.window}}]))\n",
                "      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n",
            ),
            "f.yaml: slos[0].sli.plugin: Sloth SLI plugin "
            "'sloth-common/kubernetes/apiserver/availability' is not supported: ops needs the "
            "queries; write them as events (error_query, total_query)",
            id="an SLI plugin is refused naming it",
        ),
        pytest.param(
            sloth(
                "total_query: sum(rate(requests_total[{{.window}}]))",
                "total_query: 'sum(rate(requests_total[{{.window}}])) # all'",
            ),
            "f.yaml: slos[0].sli.events.total_query: has a '#' comment at column 40; ops wraps "
            "and joins queries, so a comment would swallow what follows: remove it",
            id="a Sloth query with a # comment is refused like an ops/v1 raw query",
        ),
        pytest.param(
            sloth("[{{.window}}]))\n        total", "[5m]))\n        total"),
            "f.yaml: slos[0].sli.events.error_query: must contain {{.window}} where the range "
            "goes, e.g. [{{.window}}]",
            id="a query without the window",
        ),
        pytest.param(
            sloth("    objective: 99.5\n", "    objective: 99.5\n    objetive: 1\n"),
            "f.yaml: slos[0].objetive: unknown key (did you mean 'objective'?); valid keys: "
            "name, description, objective, labels, sli, alerting, plugins",
            id="an unknown key",
        ),
        pytest.param(
            sloth("    objective: 99.5\n", "    objective: 99.5\n    plugins: {chain: []}\n"),
            "f.yaml: slos[0].plugins: Sloth SLO plugins are not supported: they change Sloth's "
            "own rule generation",
            id="SLO plugins",
        ),
        pytest.param(
            sloth("objective: 99.5", "objective: '99.5%'"),
            "f.yaml: slos[0].objective: expected a number between 0 and 100 (exclusive), got "
            "'99.5%'",
            id="a percent string",
        ),
        pytest.param(
            SLOTH + "    alerting: {name: shop checkout}\n",
            "f.yaml: slos[0].alerting.name: expected an alert name like SearchHighErrorRate, "
            "got 'shop checkout'",
            id="an alert name with a space",
        ),
        pytest.param(
            SLOTH + "    alerting: {ticket_alert: {disable: 'yes'}}\n",
            "f.yaml: slos[0].alerting.ticket_alert.disable: expected true or false, got 'yes'",
            id="disable not a boolean",
        ),
        pytest.param(
            SLOTH + "    alerting: {page_alert: {labels: {slo: x}}}\n",
            "f.yaml: slos[0].alerting.page_alert.labels.slo: ops sets 'slo' on every series it "
            "generates (the SLO's name); rename this label, e.g. to 'slo_name'",
            id="an alert label ops sets",
        ),
        pytest.param(
            SLOTH + "    alerting: {labels: {tier: '2'}}\n",
            "f.yaml: slos[0].alerting.labels.tier: ops sets 'tier' on every alert it generates "
            "(page or ticket); rename this label, e.g. to 'alert_tier'",
            id="an alert label ops sets on alerts only (an SLO label may take it)",
        ),
        pytest.param(
            sloth("      events:\n", "      raw: {error_ratio_query: x}\n      events:\n"),
            "f.yaml: slos[0].sli: give exactly one of events, raw or plugin",
            id="two SLI kinds",
        ),
        pytest.param(
            SLOTH_K8S + "      alerting: {page_alert: {}}\n",
            "f.yaml: spec.slos[0].alerting.page_alert: unknown key (did you mean 'pageAlert'?); "
            "valid keys: name, labels, annotations, pageAlert, ticketAlert",
            id="the file spelling in a Kubernetes object",
        ),
        pytest.param(
            sloth("kind: PrometheusServiceLevel", "kind: PrometheusServiceLevels", SLOTH_K8S),
            "f.yaml: kind: expected 'PrometheusServiceLevel', got 'PrometheusServiceLevels'",
            id="a Kubernetes kind",
        ),
        pytest.param(
            SLOTH_K8S + "---\n" + SLOTH_K8S.replace("service: shop", "service: cart"),
            "f.yaml: one file per service, found cart, shop",
            id="two services in one file",
        ),
        pytest.param(
            SLOTH_K8S + "---\n" + SLOTH_K8S,
            "f.yaml: [1].spec.slos[0]: duplicate SLO name 'checkout'",
            id="the same SLO in two objects",
        ),
        pytest.param(
            SLOTH + "---\n" + SLOTH,
            "f.yaml: a Sloth prometheus/v1 file holds one YAML document, found 2",
            id="two prometheus/v1 documents",
        ),
    ],
)
def test_bad_sloth_files_name_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


# -- Pyrra ----------------------------------------------------------------------------------


def test_pyrra_objectives_map_to_the_model() -> None:
    parsed = parse_slo_file(fixture("pyrra/search.yaml"), "pyrra.yaml")
    availability, latency, accuracy = parsed.slos
    assert parsed.service == "search-pyrra"
    assert (availability.key, availability.objective, availability.window.seconds) == (
        "search-pyrra/availability",
        99.9,
        28 * DAY,
    )
    assert availability.sli == RatioSLI(
        total='http_requests_total{service="search-api"}',
        bad='http_requests_total{service="search-api",code=~"5.."}',
    )
    assert dict(availability.labels) == {"team": "search"}  # only pyrra.dev/ labels
    assert availability.alerting == Alerting(name="SearchAvailabilityErrorBudgetBurn")
    assert availability.description == "Requests that do not fail with a server error."
    assert latency.sli == LatencySLI("http_request_duration_seconds", '{service="search-api"}', 1.5)
    assert latency.window.seconds == 14 * DAY
    assert accuracy.sli == RatioSLI(
        total='search_answer_feedback_total{service="search-api"}',
        good='search_answer_feedback_total{service="search-api",rating="helpful"}',
    )
    assert accuracy.alerting.disabled
    assert accuracy.place == "pyrra.yaml: [2]"


PYRRA = """apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: checkout, namespace: shop}
spec:
  target: "99.5"
  window: 4w
  indicator:
    latency:
      success: {metric: 'request_seconds_bucket{job="shop",le="0.5"}'}
      total: {metric: 'request_seconds_count{job="shop"}'}
"""


def pyrra(old: str, new: str) -> str:
    assert old in PYRRA
    return PYRRA.replace(old, new)


def test_a_pyrra_objective_without_namespace_is_in_the_default_service() -> None:
    (slo,) = parse_slo_file(pyrra(", namespace: shop", ""), "f.yaml").slos
    assert slo.key == "default/checkout"
    assert slo.sli == LatencySLI("request_seconds", '{job="shop"}', 0.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            pyrra('target: "99.5"', "target: 99.5%"),
            "f.yaml: spec.target: expected a percent between 0 and 100 (exclusive) like '99.9', "
            "got '99.5%'",
            id="a target with a percent sign",
        ),
        pytest.param(
            pyrra("window: 4w", "window: 4 weeks"),
            "f.yaml: spec.window: expected a duration like 4w or 28d, got '4 weeks'",
            id="a window in words",
        ),
        pytest.param(
            pyrra("      total: {", "      grouping: [route]\n      total: {"),
            "f.yaml: spec.indicator.latency.grouping: is not supported: ops keeps one budget per "
            "SLO; write one SLO per group instead",
            id="grouping",
        ),
        pytest.param(
            pyrra("    latency:", "    bool_gauge: {metric: up}\n    latency:"),
            "f.yaml: spec.indicator: give exactly one of ratio or latency",
            id="two indicators",
        ),
        pytest.param(
            PYRRA.split("  indicator:")[0] + "  indicator:\n    bool_gauge: {metric: up}\n",
            "f.yaml: spec.indicator.bool_gauge: Pyrra indicator 'bool_gauge' is not supported; "
            "use ratio or latency",
            id="a bool_gauge indicator",
        ),
        pytest.param(
            pyrra(',le="0.5"', ""),
            "f.yaml: spec.indicator.latency.success.metric: expected a histogram's _bucket series "
            'with one le="<seconds>" matcher, got \'request_seconds_bucket{job="shop"}\'',
            id="a bucket without le",
        ),
        pytest.param(
            pyrra('request_seconds_count{job="shop"}', "request_seconds_count"),
            "f.yaml: spec.indicator.latency.total.metric: expected the same histogram's _count "
            'with the bucket\'s other matchers, request_seconds_count{job="shop"}, got '
            "'request_seconds_count'",
            id="a total that is not the same histogram",
        ),
        pytest.param(
            pyrra("  target:", "  targets: 1\n  target:"),
            "f.yaml: spec.targets: unknown key (did you mean 'target'?); valid keys: description, "
            "target, window, indicator, alerting",
            id="an unknown key",
        ),
        pytest.param(
            pyrra("kind: ServiceLevelObjective", "kind: SLO"),
            "f.yaml: kind: expected 'ServiceLevelObjective', got 'SLO'",
            id="another kind",
        ),
        pytest.param(
            PYRRA + "---\n" + PYRRA,
            "f.yaml: [1].metadata.name: duplicate SLO 'shop/checkout' (first at [0])",
            id="the same objective twice",
        ),
        pytest.param(
            PYRRA + "  alerting: {burnrates: maybe}\n",
            "f.yaml: spec.alerting.burnrates: expected true or false, got 'maybe'",
            id="alerting flags are booleans",
        ),
    ],
)
def test_bad_pyrra_objects_name_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


def test_pyrra_burnrates_false_disables_the_alerts() -> None:
    (slo,) = parse_slo_file(PYRRA + "  alerting: {burnrates: false}\n", "f.yaml").slos
    assert slo.alerting.disabled


def test_pyrra_absent_false_turns_off_the_no_data_alerts() -> None:
    """Pyrra's absent alerts are ops's NoData alerts (``absent`` was read and ignored)."""
    (quiet,) = parse_slo_file(PYRRA + "  alerting: {absent: false}\n", "f.yaml").slos
    (default,) = parse_slo_file(PYRRA, "f.yaml").slos
    assert (quiet.alerting.no_data, default.alerting.no_data) == (False, True)


# -- PromQL counters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "selector"),
    [
        pytest.param('sum(rate(a{b="c"}[W]))', 'a{b="c"}', id="sum of rate"),
        pytest.param("sum(increase(a[W]))", "a", id="sum of increase"),
        pytest.param("sum by (route) (rate(a[W]))", "a", id="sum by before"),
        pytest.param("sum(rate(a[W])) by (route, code)", "a", id="sum by after"),
        pytest.param("rate(a[ W ])", "a", id="a bare rate"),
        pytest.param('sum(rate(a{code=~"(5..)"}[W]))', 'a{code=~"(5..)"}', id="parens in quotes"),
        pytest.param("sum(rate(a[5m]))", None, id="a fixed range is not the window"),
        pytest.param("sum(irate(a[W]))", None, id="irate"),
        pytest.param("sum(rate(a[W])) / 2", None, id="arithmetic after"),
        pytest.param("sum(rate(a[W]) * 2)", None, id="arithmetic inside"),
        pytest.param("max(rate(a[W]))", None, id="another aggregation"),
        pytest.param("sum(rate(a[W])", None, id="unbalanced"),
    ],
)
def test_counter_over_window(query: str, selector: str | None) -> None:
    assert counter_over_window(query, "W") == selector


def test_all_fixtures_load_together() -> None:
    slos = load_slos([str(FIXTURES / "sloth"), str(FIXTURES / "pyrra")])
    assert len(slos) == 8


# -- whatever the input, only ConfigError -------------------------------------------------

FORMAT_TOKENS = st.lists(
    st.sampled_from(
        [
            "version: prometheus/v1\n",
            "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
            "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n",
            "apiVersion: openslo/v1\nkind: SLO\n",
            "apiVersion: openslo/v1alpha\n",
            "kind: SLI\n",
            "kind: DataSource\n",
            "kind: AlertPolicy\n",
            "metadata: {name: a}\n",
            "metadata: {name: a, namespace: b}\n",
            "service: s\n",
            "spec:\n",
            "  service: s\n",
            "slos:\n",
            "  - name: x\n",
            "    objective: 99\n",
            "  target: '99'\n",
            "  window: 2w\n",
            "  budgetingMethod: Timeslices\n",
            "  indicatorRef: a\n",
            "  timeWindow: [{duration: 1M, calendar: {startTime: 2026-01-01}}]\n",
            "  objectives: [{target: 0.9, timeSliceWindow: 5}]\n",
            "  indicator: {ratio: {errors: {metric: a}, total: {metric: b}}}\n",
            "  indicator: {latency: {success: {metric: 'a_bucket{le=\"1\"}'}, total: {metric: a}}}\n",
            "    sli: {events: {error_query: 'sum(rate(a[{{.window}}]))', total_query: b}}\n",
            "    sli: {plugin: {id: p}}\n",
            "    alerting: {page_alert: {disable: true}}\n",
            "      ratioMetric: {counter: true, good: {metricSource: {type: Prometheus}}}\n",
            "  alertPolicies: [{alertPolicyRef: p}]\n",
            "    objective: " + "9" * 400 + "\n",
            "  window: 99999999999999999999d\n",
            "  objectives: [{op: lt, value: .inf, target: 0.9}]\n",
            "- ",
            "---\n",
            "{",
            "[",
            ":",
            "'",
            "\t",
        ]
    )
    | st.text(max_size=3)
).map("".join)


@settings(max_examples=int(os.environ.get("OPS_FUZZ_EXAMPLES", "300")), deadline=None)
@given(FORMAT_TOKENS)
def test_any_text_in_any_format_raises_only_config_errors(text: str) -> None:
    try:
        parse_slo_file(text, "f.yaml")
    except ConfigError as error:
        assert str(error).startswith("f.yaml")


def test_the_readme_examples_read() -> None:
    """The YAML of README's 'Bringing your files' is valid in its format."""
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Bringing your files")[1].split("\n## ")[0]
    blocks = [b.split("```")[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    openslo, sloth = blocks
    shared = {
        ("SLI", "search-errors"): Node(
            {
                "apiVersion": "openslo/v1",
                "kind": "SLI",
                "metadata": {"name": "search-errors"},
                "spec": {
                    "ratioMetric": {
                        "counter": True,
                        "bad": {"metricSource": {"type": "Prometheus", "spec": {"query": "e"}}},
                        "total": {"metricSource": {"type": "Prometheus", "spec": {"query": "t"}}},
                    }
                },
            },
            "",
            "slis.yaml",
        ),
        ("AlertPolicy", "search-page"): Node(
            {
                "metadata": {"name": "search-page"},
                "spec": {
                    "conditions": [
                        {
                            "metadata": {"name": "fast"},
                            "spec": {
                                "severity": "page",
                                "condition": {"threshold": 14.4, "lookbackWindow": "1h"},
                            },
                        }
                    ]
                },
            },
            "",
            "policies.yaml",
        ),
    }
    strict, relaxed = parse_slo_file(openslo, "o.yaml", shared).slos
    assert (strict.name, relaxed.name) == ("availability-strict", "availability-relaxed")
    assert strict.window.describe() == "calendar month from 2026-01-01T00:00:00 (Europe/Berlin)"
    (availability,) = parse_slo_file(sloth, "s.yaml").slos
    assert availability.alerting.ticket.disable


HUGE = "9" * 400
CUT = "'" + "9" * 36 + "..."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            sloth("objective: 99.5", f"objective: {HUGE}"),
            f"f.yaml: slos[0].objective: expected a number between 0 and 100 (exclusive), got {CUT}",
            id="a 400-digit objective is an error, not an OverflowError",
        ),
        pytest.param(
            pyrra("window: 4w", f"window: {HUGE[:40]}d"),
            f"f.yaml: spec.window: expected a window from 1h to 3650d in whole seconds, got {CUT}",
            id="a Pyrra window of 10^40 days",
        ),
        pytest.param(
            pyrra("window: 4w", "window: 3651d"),
            "f.yaml: spec.window: expected a window from 1h to 3650d in whole seconds, got '3651d'",
            id="a Pyrra window over ten years",
        ),
    ],
)
def test_huge_numbers_are_errors_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message
