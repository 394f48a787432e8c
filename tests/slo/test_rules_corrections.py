"""Corrections in the generated rules: the active series, its horizon, and ``--check``."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.correction_rules import (
    Horizon,
    active_expr,
    choose_horizon,
    horizon_problem,
    read_horizon,
)
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import load_slo_files, parse_slo_file

GOLDEN = Path(__file__).parent / "golden"

SHOP = """\
version: ops/v1
service: shop
slos:
  - name: availability
    objective: 99.9
    window: 30d
    corrections:
      - {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:30:00Z, reason: INC-231 bad deploy}
      - {cron: "0 2 * * SUN", duration: 1h, timezone: Europe/Berlin, reason: weekly upgrade}
    sli:
      ratio:
        bad: http_requests_total{job="shop",code=~"5.."}
        total: http_requests_total{job="shop"}
  - name: plain
    objective: 99
    window: 7d
    sli:
      ratio:
        good: jobs_total{outcome="ok"}
        total: jobs_total
"""

PLAIN_ONLY = SHOP[: SHOP.index("  - name: availability")] + SHOP[SHOP.index("  - name: plain") :]

# 2027-03-01, a Monday: the 30d horizon holds Berlin's spring-forward night (28 March).
SPRING = Horizon(datetime(2027, 3, 1, tzinfo=UTC), 30 * 86400)


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _rules(text: str, horizon: Horizon | None = SPRING) -> dict[str, Any]:
    generated = generate(
        [parse_slo_file(text, "shop.yaml")],
        None,
        False,
        horizons={"shop": horizon} if horizon else {},
    )
    return yaml.safe_load(generated["shop.rules.yaml"])  # type: ignore[no-any-return]


def _record(document: dict[str, Any], name: str, slo: str) -> dict[str, Any]:
    return next(
        r
        for g in document["groups"]
        for r in g["rules"]
        if r.get("record") == name and r["labels"]["slo"] == slo
    )


def test_slos_without_corrections_give_the_same_bytes_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The golden files predate corrections; an SLO without corrections beside one with them
    gets exactly the groups it gets alone."""
    monkeypatch.chdir(GOLDEN)
    generated = generate(load_slo_files(["checkout.yaml"]), None, True, horizons={})
    for name in ("checkout.rules.yaml", "checkout.rules.test.yaml"):
        assert generated[name] == (GOLDEN / name).read_text()
    assert sorted(generated) == ["checkout.rules.test.yaml", "checkout.rules.yaml"]
    together = [g for g in _rules(SHOP)["groups"] if g["name"].startswith("slo-shop-plain")]
    alone = [g for g in _rules(PLAIN_ONLY, None)["groups"]]
    assert together == alone
    assert (
        "correction"
        not in generate([parse_slo_file(PLAIN_ONLY, "s.yaml")], None, True)["shop.rules.yaml"]
    )


def test_the_active_series_lists_each_window_as_a_time_interval_ending_5m_late() -> None:
    """A 5m count recorded at t holds (t-5m, t]: it is excluded while it holds a corrected
    event, so each window ends 5 minutes late; windows that then touch are merged."""
    assert active_expr([]) == "vector(0)"
    assert active_expr([(1000.0, 2000.0), (2200.0, 3000.0), (9000.0, 9600.5)]) == (
        "(vector(time()) > 1000 < 3300 or vector(time()) > 9000 < 9900.5) * 0 + 1 or vector(0)"
    )


def test_recurring_windows_are_expanded_in_their_time_zone_over_the_horizon() -> None:
    """Sundays 02:00 Berlin for 1h: 01:00 UTC in winter; on 28 March 2027 02:00 does not
    exist and the window starts as the clock jumps (01:00 UTC); in summer 00:00 UTC. The
    one-off correction is written whole though it lies before the horizon."""
    active = _record(_rules(SHOP), "slo:correction:active", "availability")
    once_start, once_end = int(_at("2026-11-03T14:00:00Z")), int(_at("2026-11-03T15:30:00Z"))
    march = [int(_at(f"2027-03-{day:02}T01:00:00Z")) for day in (7, 14, 21, 28)]
    # The four Sundays are one run: a week apart, each 1h (and the 5m the counts lag).
    assert active["expr"] == (
        f"(vector(time()) > {once_start} < {once_end + 300} or "
        f"((vector(time()) > {march[0]} < {march[3] + 3900}) - {march[0]}) % 604800 > 0 < 3900)"
        " * 0 + 1 or vector(0)"
    )
    assert active["labels"] == {
        "service": "shop",
        "slo": "availability",
        "corrections": "9548b20d d297364c",
        "horizon_end": "2027-03-31T00:00:00Z",
    }
    longer = Horizon(SPRING.start, 40 * 86400)
    summer = _record(_rules(SHOP, longer), "slo:correction:active", "availability")
    april = int(_at("2027-04-04T00:00:00Z"))
    assert f"vector(time()) > {april} < {april + 3900}" in summer["expr"]


ACTIVE_SPANS = [(600.0, 1200.0), (4200.0, 4800.0), (7800.0, 8400.0), (11400.0, 12000.0)]
ACTIVE_SPANS += [(12200.0, 12260.0), (20000.0, 20060.0)]


def test_the_active_expression_is_1_exactly_where_prometheus_evaluates_it(tmp_path: Path) -> None:
    """Against promtool's PromQL: hourly windows, the fourth of which merges with a short one
    starting within its 5m lag (so the first three are a run: one modulo term), and one on
    its own; every second near an edge, and each minute between."""
    from ops_toolkit.demo.servers import require_binary

    expr = active_expr(ACTIVE_SPANS)
    assert expr.count(" % ") == 1  # the run is one term
    edges = {int(e) + d for span in ACTIVE_SPANS for e in span for d in (-1, 0, 1, 299, 300, 301)}
    times = sorted(edges | set(range(0, 21000, 60)))

    def truth(t: int) -> int:
        return int(any(a < t < b + 300 for a, b in ACTIVE_SPANS))

    (tmp_path / "empty.yaml").write_text("groups: []\n")
    document = {
        "rule_files": ["empty.yaml"],
        "tests": [
            {
                "input_series": [],
                "promql_expr_test": [
                    {"expr": expr, "eval_time": f"{t}s", "exp_samples": [{"value": truth(t)}]}
                    for t in times
                ],
            }
        ],
    }
    (tmp_path / "active.test.yaml").write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", "active.test.yaml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert {truth(t) for t in times} == {0, 1}


def test_the_counts_are_multiplied_out_while_a_correction_is_active() -> None:
    document = _rules(SHOP)
    selector = '{service="shop",slo="availability"}'
    events = next(g for g in document["groups"] if g["name"] == "slo-shop-availability-events")
    assert [r["record"] for r in events["rules"]] == [
        "slo:correction:active",  # first: the counts read this evaluation's value
        "slo:bad_events:increase5m",
        "slo:total_events:increase5m",
    ]
    assert events["rules"][1]["expr"] == (
        '(sum(increase(http_requests_total{job="shop",code=~"5.."}[5m])) or vector(0)) '
        f"* on() (1 - max(slo:correction:active{selector}))"
    )
    assert events["rules"][2]["expr"] == (
        '(sum(increase(http_requests_total{job="shop"}[5m]))) '
        f"* on() (1 - max(slo:correction:active{selector}))"
    )


def test_recurring_corrections_without_a_horizon_are_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        _rules(SHOP, None)
    assert str(raised.value) == (
        "shop.yaml: slos[0].corrections: recurring corrections need a horizon to be expanded "
        "over (ops slo rules --horizon)"
    )


def test_hourly_windows_are_one_term_and_irregular_ones_over_a_long_horizon_refused() -> None:
    hourly = SHOP.replace(
        '"0 2 * * SUN", duration: 1h, timezone: Europe/Berlin', '"0 * * * *", duration: 10m'
    )
    active = _record(_rules(hourly, Horizon(SPRING.start)), "slo:correction:active", "availability")
    assert active["expr"].count(" or vector(time())") == 0  # the one-off term, then the run
    assert active["expr"].count("% 3600 > 0 < 900") == 1
    irregular = SHOP.replace('"0 2 * * SUN", duration: 1h', '"0 1,3,8,20 * * *", duration: 30m')
    with pytest.raises(ConfigError) as raised:
        _rules(irregular, Horizon(SPRING.start, 365 * 86400))
    assert str(raised.value) == (
        "shop.yaml: slos[0].corrections: their windows take 1461 terms in the 365d horizon; a "
        "rule holds at most 1000: give a shorter --horizon, or windows that repeat at a "
        "regular step (each run of them is one term)"
    )
    assert _rules(irregular, Horizon(SPRING.start, 90 * 86400))


def test_the_rule_file_states_its_horizon_and_it_reads_back() -> None:
    text = generate([parse_slo_file(SHOP, "shop.yaml")], None, False, horizons={"shop": SPRING})[
        "shop.rules.yaml"
    ]
    assert text.splitlines()[:2] == [
        "# Generated by ops from shop.yaml; DO NOT EDIT.",
        "# Recurring corrections are expanded from 2027-03-01T00:00:00Z until "
        "2027-03-31T00:00:00Z (30d); regenerate before 2027-03-21T00:00:00Z ('ops slo rules "
        "--check' fails from then).",
    ]
    assert read_horizon(text) == SPRING
    assert read_horizon("# Generated by ops from x; DO NOT EDIT.\n") is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2027-03-20T23:59:00Z", None),
        (
            "2027-03-21T00:00:00Z",
            "alerts/shop.rules.yaml: its recurring corrections are expanded until "
            "2027-03-31T00:00:00Z, 10.0 days from now (under a third of its 30d horizon): run "
            "'ops slo rules' to extend them",
        ),
        (
            "2027-03-31T00:00:00Z",
            "alerts/shop.rules.yaml: its recurring corrections were expanded until "
            "2027-03-31T00:00:00Z, which has passed: the rules no longer exclude them; run "
            "'ops slo rules' and load the result",
        ),
    ],
    ids=["two thirds gone: current", "a third left: regenerate", "passed"],
)
def test_a_horizon_running_out_is_a_problem(now: str, expected: str | None) -> None:
    assert horizon_problem("alerts/shop.rules.yaml", SPRING, _at(now)) == expected


def test_regenerating_keeps_the_horizon_on_disk_while_a_third_is_left() -> None:
    text = generate([parse_slo_file(SHOP, "shop.yaml")], None, False, horizons={"shop": SPRING})[
        "shop.rules.yaml"
    ]
    seconds = SPRING.seconds
    assert choose_horizon(text, _at("2027-03-20T12:00:00Z"), seconds) == SPRING
    assert choose_horizon(text, _at("2027-03-21T12:00:00Z"), seconds) == Horizon(
        datetime(2027, 3, 21, tzinfo=UTC), seconds
    )
    # Another length asked for: a new horizon from today.
    assert choose_horizon(text, _at("2027-03-02T12:00:00Z"), 90 * 86400) == Horizon(
        datetime(2027, 3, 2, tzinfo=UTC), 90 * 86400
    )
    assert choose_horizon(None, _at("2027-03-02T12:00:00Z"), seconds).start == datetime(
        2027, 3, 2, tzinfo=UTC
    )


def _rules_cli(tmp_path: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        main,
        ["slo", "rules", str(tmp_path / "shop.yaml"), "--dir", str(tmp_path / "out"), *extra],
    )


def test_check_passes_until_a_third_of_the_horizon_is_left_then_exits_1(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP)
    with time_machine.travel(datetime(2027, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        assert _rules_cli(tmp_path, "--horizon", "30d").exit_code == 0
    written = (tmp_path / "out" / "shop.rules.yaml").read_text()
    assert read_horizon(written) == SPRING
    with time_machine.travel(datetime(2027, 3, 20, 12, tzinfo=UTC), tick=False):
        checked = _rules_cli(tmp_path, "--horizon", "30d", "--check")
        assert checked.exit_code == 0, checked.output
        again = _rules_cli(tmp_path, "--horizon", "30d")  # nothing to rewrite yet
        assert again.output.endswith("shop.rules.yaml (unchanged)\n")
    with time_machine.travel(datetime(2027, 3, 22, tzinfo=UTC), tick=False):
        checked = _rules_cli(tmp_path, "--horizon", "30d", "--check")
        assert checked.exit_code == 1
        assert checked.output == (
            f"{tmp_path}/out/shop.rules.yaml: its recurring corrections are expanded until "
            "2027-03-31T00:00:00Z, 9.0 days from now (under a third of its 30d horizon): run "
            "'ops slo rules' to extend them\n"
            "Rule files are stale: run 'ops slo rules' and commit the result.\n"
        )
        assert _rules_cli(tmp_path, "--horizon", "30d").exit_code == 0
        assert _rules_cli(tmp_path, "--horizon", "30d", "--check").exit_code == 0
    assert read_horizon((tmp_path / "out" / "shop.rules.yaml").read_text()) == Horizon(
        datetime(2027, 3, 22, tzinfo=UTC), 30 * 86400
    )


def test_check_names_a_correction_the_rules_lack(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP)
    with time_machine.travel(datetime(2027, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        assert _rules_cli(tmp_path).exit_code == 0
        added = SHOP.replace(
            "      - {cron:",
            "      - {start: 2027-03-01T08:00:00Z, end: 2027-03-01T09:00:00Z, reason: INC-240}\n"
            "      - {cron:",
        )
        (tmp_path / "shop.yaml").write_text(added)
        checked = _rules_cli(tmp_path, "--check")
    assert checked.exit_code == 1
    assert checked.output == (
        f"{tmp_path}/out/shop.rules.yaml: differs from what the SLOs generate\n"
        f"{tmp_path}/out/shop.rules.yaml: shop/availability: the rules lack the correction at "
        f"{tmp_path}/shop.yaml: slos[0].corrections[1] (2027-03-01T08:00:00Z to "
        "2027-03-01T09:00:00Z: INC-240); run 'ops slo rules' and load the result\n"
        "Rule files are stale: run 'ops slo rules' and commit the result.\n"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12h", "expected whole seconds and at least 1d, got '12h'"),
        ("soon", "not a duration: 'soon' (use e.g. '30s', '5m', '1h30m')"),
    ],
)
def test_a_bad_horizon_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP)
    result = _rules_cli(tmp_path, "--horizon", value)
    assert result.exit_code == 2
    assert f"Invalid value for --horizon: {message}" in result.output


def test_the_promtool_files_of_corrections_are_judged_only_with_tests(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP)
    with time_machine.travel(datetime(2027, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        assert _rules_cli(tmp_path, "--tests").exit_code == 0
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
            "shop.corrections.rules.test.yaml",
            "shop.corrections.test-rules.yaml",
            "shop.rules.test.yaml",
            "shop.rules.yaml",
        ]
        assert _rules_cli(tmp_path, "--check").exit_code == 0
        assert _rules_cli(tmp_path, "--tests", "--check").exit_code == 0
        (tmp_path / "shop.yaml").write_text(PLAIN_ONLY)
        checked = _rules_cli(tmp_path, "--tests", "--check")
    assert checked.exit_code == 1
    assert (
        f"{tmp_path}/out/shop.corrections.test-rules.yaml: generated from an SLO file that no "
        "longer exists\n"
    ) in checked.output
