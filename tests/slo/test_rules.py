"""Rule generation: golden files, numbers without float noise, names, and refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ops_toolkit.errors import ConfigError
from ops_toolkit.runbook.catalog import load_runbooks
from ops_toolkit.slo.rules import alert_name, clean, generate, no_data_alert_name, parse_selector
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


def test_factors_follow_the_period() -> None:
    text = generate(load_slo_files([str(GOLDEN / "checkout.yaml")]), None, False)[
        "checkout.rules.yaml"
    ]
    document = yaml.safe_load(text.split("\n", 1)[1])
    alerts = [
        r
        for g in document["groups"]
        for r in g["rules"]
        if r.get("alert") == "CheckoutPaymentSuccessBudgetBurn"
    ]
    assert "> 13.44 and" in alerts[0]["expr"] and "> 5.6 and" in alerts[0]["expr"]
    assert "> 2.8 and" in alerts[1]["expr"] and "> 0.933333 and" in alerts[1]["expr"]
    assert alerts[0]["labels"] == {
        "severity": "page",
        "service": "checkout",
        "slo": "payment-success",
        "team": "payments",
        "tier": "1",
    }
    assert alerts[0]["annotations"]["runbook_url"] == "https://runbooks.example/checkout.md"


def test_every_generated_alert_of_the_worked_example_leads_to_a_runbook() -> None:
    claimed = {a for r in load_runbooks([str(ROOT / "runbooks")]) for a in r.alerts}
    for file in load_slo_files([str(ROOT / "slos")]):
        for slo in file.slos:
            assert alert_name(slo) in claimed
            assert no_data_alert_name(slo) in claimed


def test_a_window_shorter_than_the_alert_windows_is_refused() -> None:
    text = "version: ops/v1\nservice: s\nslos:\n  - name: x\n    objective: 99\n    window: 1d\n    sli: {ratio: {bad: a, total: b}}\n"
    with pytest.raises(ConfigError) as raised:
        generate([parse_slo_file(text, "s.yaml")], None, False)
    assert str(raised.value) == (
        "s.yaml: slos[0].window: 1d is shorter than the 3d burn-rate window; rules need a window "
        "of at least 3d"
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


def test_selectors_parse_into_name_and_matchers() -> None:
    assert parse_selector('x_total{a="1", b=~"5..",c!="z"}') == (
        "x_total",
        [("a", "=", "1"), ("b", "=~", "5.."), ("c", "!=", "z")],
    )
    assert parse_selector('{__name__="up",job="x"}') == ("up", [("job", "=", "x")])
    assert parse_selector("rate(x[5m])") is None


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
