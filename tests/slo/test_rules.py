"""Rule generation: golden files, numbers without float noise, names, and refusals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops_toolkit.errors import ConfigError
from ops_toolkit.runbook.catalog import load_runbooks
from ops_toolkit.slo.rules import (
    alert_name,
    clean,
    generate,
    inhibit_document,
    no_data_alert_name,
    rule_document,
)
from ops_toolkit.slo.spec import load_slo_files, parse_slo_file
from tests.conftest import ROOT

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["checkout.rules.yaml", "checkout.rules.test.yaml"])
def test_golden_rule_files(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    generated = generate(load_slo_files(["checkout.yaml"]), None, True)
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(generated[name])
    assert generated[name] == (GOLDEN / name).read_text()


def test_generation_is_deterministic() -> None:
    files = load_slo_files([str(GOLDEN / "checkout.yaml")])
    assert generate(files, "https://x", True) == generate(files, "https://x", True)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1 - 0.999, "0.001"),
        (0.0009999999999999432, "0.001"),
        (14.4, "14.4"),
        (0.1 * 672 / 72, "0.9333333333"),
        (1e-5, "0.00001"),
        (99.5 / 100, "0.995"),
    ],
)
def test_numbers_are_printed_without_float_noise(number: float, text: str) -> None:
    assert clean(number) == text


def _alerts(text: str, name: str) -> list[dict[str, Any]]:
    document = yaml.safe_load(text.split("\n", 1)[1])
    return [r for g in document["groups"] for r in g["rules"] if r.get("alert") == name]


def test_windows_follow_the_period_and_factors_stay() -> None:
    text = generate(load_slo_files([str(GOLDEN / "checkout.yaml")]), None, False)[
        "checkout.rules.yaml"
    ]
    alerts = _alerts(text, "CheckoutPaymentSuccessBudgetBurn")  # a 28d SLO
    selector = '{service="checkout",slo="payment-success"}'
    assert [(a["expr"], a["for"]) for a in alerts] == [
        (f"slo:burn_rate:56m{selector} > 14.4 and slo:burn_rate:5m{selector} > 14.4", "2m"),
        (f"slo:burn_rate:5h36m{selector} > 6 and slo:burn_rate:28m{selector} > 6", "14m"),
        (f"slo:burn_rate:22h24m{selector} > 3 and slo:burn_rate:1h52m{selector} > 3", "56m"),
        (f"slo:burn_rate:2d19h12m{selector} > 1 and slo:burn_rate:5h36m{selector} > 1", "2h48m"),
    ]
    assert alerts[0]["labels"] == {
        "severity": "page",
        "tier": "page",
        "long": "56m",
        "short": "5m",
        "service": "checkout",
        "slo": "payment-success",
        "team": "payments",
        "priority": "1",
    }
    assert alerts[0]["annotations"]["runbook_url"] == "https://runbooks.example/checkout.md"
    assert alerts[0]["annotations"]["description"].endswith(
        "Fires when 56m and 5m are above 14.4x for 2m: 2% of the budget gone in 56m."
    )


def test_a_custom_window_set_replaces_the_table() -> None:
    text = (
        "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    window: 1d\n"
        "    alerting:\n      windows:\n        - {severity: page, long: 1h, short: 5m, "
        "factor: 10, for: 3m}\n    sli: {ratio: {bad: a, total: b}}\n"
    )
    rules = generate([parse_slo_file(text, "s.yaml")], None, False)["s.rules.yaml"]
    (alert,) = _alerts(rules, "SXBudgetBurn")
    assert alert["expr"] == (
        'slo:burn_rate:1h{service="s",slo="x"} > 10 and slo:burn_rate:5m{service="s",slo="x"} > 10'
    )
    assert alert["for"] == "3m"
    assert "slo:error_ratio:1h" in rules


def test_every_generated_alert_of_the_worked_example_leads_to_a_runbook() -> None:
    claimed = {a for r in load_runbooks([str(ROOT / "runbooks")]) for a in r.alerts}
    for file in load_slo_files([str(ROOT / "slos")]):
        for slo in file.slos:
            assert alert_name(slo) in claimed
            assert no_data_alert_name(slo) in claimed


def test_a_period_too_short_for_the_scaled_table_is_refused() -> None:
    text = "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    window: 2d\n    sli: {ratio: {bad: a, total: b}}\n"
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "s.yaml")
    assert str(raised.value) == (
        "s.yaml: slos[0].window: 2d is too short for burn-rate alerts: the 1h window scaled to "
        "it is under 5m, the resolution of the recorded event counts; use a window of at least "
        "2d6h or give alerting.windows"
    )


def test_colliding_alert_names_are_refused() -> None:
    one = "version: ops/v1\nservice: a-b\nslos:\n  - name: c\n    objective: 99\n    sli: {ratio: {bad: a, total: b}}\n"
    two = "version: ops/v1\nservice: a\nslos:\n  - name: b-c\n    objective: 99\n    sli: {ratio: {bad: a, total: b}}\n"
    with pytest.raises(ConfigError) as raised:
        generate([parse_slo_file(one, "1.yaml"), parse_slo_file(two, "2.yaml")], None, False)
    assert str(raised.value) == (
        "2.yaml: slos[0]: alert name ABCBudgetBurn is also the name of a-b/c (1.yaml: slos[0]); "
        "rename one of the SLOs"
    )


def test_rule_files_are_dumped_item_by_item_as_one_safe_dump_would_write_them() -> None:
    """Dumping each group on its own (linear time) gives the bytes of one whole dump."""
    from ops_toolkit.demo.data import synthetic_slo_file
    from ops_toolkit.slo.rules import _dump_yaml, rule_document

    file = parse_slo_file(synthetic_slo_file(30), "bench.yaml")
    documents = [
        rule_document(file, "https://runbooks.example/é"),
        {"groups": []},
        {"a": 1, "b": [{"x": "y: z"}, "é"], "c": {"d": [1, 2]}, "e": None},
    ]
    for document in documents:
        expected = yaml.safe_dump(dict(document), sort_keys=False, width=4096, allow_unicode=True)
        assert _dump_yaml(document) == expected


def _no_data(text: str, name: str) -> dict[str, tuple[str, str | None]]:
    return {a["labels"]["missing"]: (a["expr"], a.get("for")) for a in _alerts(text, name)}


def test_no_data_alerts_name_each_raw_series_the_sli_depends_on() -> None:
    text = generate(load_slo_files([str(GOLDEN / "checkout.yaml")]), None, False)[
        "checkout.rules.yaml"
    ]
    assert _no_data(text, "CheckoutPaymentSuccessNoData") == {
        "total": ("vector(1) unless on() count(payments_total)", "10m"),
        "good": (
            '(vector(1) unless on() count(payments_total{outcome="success"})) and on() '
            "count(payments_total)",
            "10m",
        ),
    }
    assert _no_data(text, "CheckoutPageLatencyNoData") == {
        "total": ('vector(1) unless on() count(page_seconds_count{route=~"/cart|/pay"})', "10m"),
        "bucket": (
            '(vector(1) unless on() count(page_seconds_bucket{route=~"/cart|/pay",le="0.5"})) '
            'and on() count(page_seconds_count{route=~"/cart|/pay"})',
            "10m",
        ),
    }
    assert _no_data(text, "CheckoutFraudChecksNoData") == {
        "total": (
            'vector(1) unless on() count(slo:total_events:increase5m{service="checkout",'
            'slo="fraud-checks"})',
            "10m",
        )
    }


def test_the_bad_series_is_checked_over_the_whole_period_and_keeps_or_vector_0() -> None:
    text = "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    window: 7d\n    sli: {ratio: {bad: 'r{code=\"500\"}', total: r}}\n"
    rules = generate([parse_slo_file(text, "s.yaml")], None, False)["s.rules.yaml"]
    assert _no_data(rules, "SXNoData")["bad"] == (
        '(vector(1) unless on() count(last_over_time(r{code="500"}[7d]))) and on() '
        "count(r offset 7d)",
        None,
    )
    assert 'expr: sum(increase(r{code="500"}[5m])) or vector(0)\n' in rules


def test_a_missing_bucket_reads_as_no_data_not_as_every_event_slow() -> None:
    text = generate(load_slo_files([str(GOLDEN / "checkout.yaml")]), None, False)[
        "checkout.rules.yaml"
    ]
    assert (
        'expr: sum(increase(page_seconds_count{route=~"/cart|/pay"}[5m])) - '
        'sum(increase(page_seconds_bucket{route=~"/cart|/pay",le="0.5"}[5m]))\n'
    ) in text


def test_min_events_adds_the_long_window_total_to_every_pair() -> None:
    text = "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    alerting: {min_events: 50}\n    sli: {ratio: {bad: a, total: b}}\n"
    rules = generate([parse_slo_file(text, "s.yaml")], None, False)["s.rules.yaml"]
    alerts = _alerts(rules, "SXBudgetBurn")
    assert alerts[0]["expr"].endswith(' and slo:total_events:1h{service="s",slo="x"} >= 50')
    assert alerts[3]["expr"].endswith(' and slo:total_events:3d{service="s",slo="x"} >= 50')
    assert (
        "- record: slo:total_events:1d\n"
        '    expr: sum_over_time(slo:total_events:increase5m{service="s",slo="x"}[1d:5m])\n'
    ) in rules
    plain = text.replace("    alerting: {min_events: 50}\n", "")
    assert (
        "slo:total_events:1h"
        not in generate([parse_slo_file(plain, "s.yaml")], None, False)["s.rules.yaml"]
    )


def test_per_tier_settings_rename_relabel_annotate_and_disable() -> None:
    text = (
        "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    alerting:\n"
        "      page: {name: XPage, labels: {severity: critical, routing_key: k}, annotations: "
        "{summary: custom}}\n      ticket: {disable: true}\n    sli: {ratio: {bad: a, total: b}}\n"
    )
    files = [parse_slo_file(text, "s.yaml")]
    rules = generate(files, None, False)["s.rules.yaml"]
    pages = _alerts(rules, "XPage")
    assert [a["labels"]["long"] for a in pages] == ["1h", "6h"]
    assert pages[0]["labels"] == {
        "severity": "critical",
        "tier": "page",
        "long": "1h",
        "short": "5m",
        "service": "s",
        "slo": "x",
        "routing_key": "k",
    }
    assert pages[0]["annotations"]["summary"] == "custom"
    assert _alerts(rules, "SXBudgetBurn") == []  # no ticket alerts
    assert inhibit_document(files) == {"inhibit_rules": []}


def test_inhibit_rules_hold_each_slos_ticket_while_its_page_fires() -> None:
    files = load_slo_files([str(GOLDEN / "checkout.yaml")])
    first = inhibit_document(files)["inhibit_rules"][0]
    assert first == {
        "source_matchers": [
            'alertname="CheckoutPaymentSuccessBudgetBurn"',
            'tier="page"',
            'service="checkout"',
            'slo="payment-success"',
        ],
        "target_matchers": [
            'alertname="CheckoutPaymentSuccessBudgetBurn"',
            'tier="ticket"',
            'service="checkout"',
            'slo="payment-success"',
        ],
        "equal": ["service", "slo"],
    }


NO_ALERTS = {
    "sloth": """version: prometheus/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(x_total{code="500"}[{{.window}}]))
        total_query: sum(rate(x_total[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
""",
    "ops/v1": """version: ops/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli: {ratio: {bad: 'x_total{code="500"}', total: x_total}}
    alerting: {page: {disable: true}, ticket: {disable: true}, no_data: false}
""",
}


@pytest.mark.parametrize("form", list(NO_ALERTS))
def test_an_slo_without_alerts_gets_recording_rules_only(form: str) -> None:
    """Sloth's page_alert and ticket_alert both disabled mean no alert rules (it was: the
    NoData alerts stayed); ops/v1 says it with both tiers disabled and no_data: false."""
    file = parse_slo_file(NO_ALERTS[form], "api.yaml")
    rules = [rule for group in rule_document(file, None)["groups"] for rule in group["rules"]]
    assert [rule for rule in rules if "alert" in rule] == []
    assert len(rules) == len([rule for rule in rules if "record" in rule]) > 0
