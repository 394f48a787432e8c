"""``ops slo convert``: what is written reads back as the same SLOs, in either direction."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.cli import main
from ops_toolkit.slo.formats.write import to_openslo, to_ops
from ops_toolkit.slo.model import SLO, Alerting, LatencySLI, RatioSLI, SLOFile, Window
from ops_toolkit.slo.selector import NOT_METRIC_NAMES
from ops_toolkit.slo.spec import load_slo_files, parse_slo_file
from tests.slo.test_rules import NO_ALERTS

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("OPS_FUZZ_EXAMPLES", "300"))


def comparable(slo: SLO) -> SLO:
    """An SLO without where it was read from."""
    return dataclasses.replace(slo, source="", path="")


# -- generated SLO files ---------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
LABEL_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in ("service", "slo", "le")
)
VALUES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True)
METRICS = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.endswith(("_bucket", "_count", "_sum")) and n not in NOT_METRIC_NAMES
)  # 'on', 'bool'... are PromQL keywords, refused as metric names (slo/selector.py)


@st.composite
def selectors(draw: st.DrawFn, metric: str | None = None) -> str:
    name = metric or draw(METRICS)
    matchers = draw(st.dictionaries(LABEL_NAMES, VALUES, max_size=3))
    if not matchers and draw(st.booleans()):
        return name
    ops = draw(st.lists(st.sampled_from(["=", "!=", "=~", "!~"]), min_size=3, max_size=3))
    inner = ",".join(f'{k}{op}"{v}"' for (k, v), op in zip(matchers.items(), ops, strict=False))
    return f"{name}{{{inner}}}"


@st.composite
def slis(draw: st.DrawFn) -> RatioSLI | LatencySLI:
    if draw(st.booleans()):
        matchers = draw(st.dictionaries(LABEL_NAMES, VALUES, max_size=3))
        selector = "{" + ",".join(f'{k}="{v}"' for k, v in matchers.items()) + "}"
        below = draw(st.sampled_from([0.005, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 10.0, 120.0]))
        return LatencySLI(draw(METRICS), selector, below)
    total = draw(selectors())
    counted = draw(selectors())
    return (
        RatioSLI(total=total, bad=counted) if draw(st.booleans()) else RatioSLI(total, good=counted)
    )


WINDOWS = st.one_of(
    st.integers(54 * 60, 400 * 24 * 60).map(
        lambda minutes: Window(minutes * 60)
    ),  # under 2d6h needs alerting.windows
    st.builds(
        Window,
        st.just(0),
        st.sampled_from(["week", "month", "quarter"]),
        st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    ),
)


@st.composite
def slo_files(draw: st.DrawFn) -> SLOFile:
    service = draw(NAMES)
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    slos = tuple(
        SLO(
            service=service,
            name=name,
            objective=draw(st.floats(min_value=1.0, max_value=99.999)),
            window=draw(WINDOWS),
            sli=draw(slis()),
            source="",
            path="",
            description=draw(
                st.from_regex(r"([A-Za-z0-9][A-Za-z0-9 ,.]{0,30}[A-Za-z0-9.])?", fullmatch=True)
            ),
            runbook=draw(st.sampled_from([None, "runbooks/a.md", "https://git.example/b.md"])),
            labels=draw(st.dictionaries(LABEL_NAMES, VALUES, max_size=3)),
        )
        for name in names
    )
    return SLOFile("", service, slos)


@settings(max_examples=EXAMPLES, deadline=None)
@given(slo_files(), st.sampled_from(["ops", "openslo"]))
def test_a_round_trip_gives_the_same_slos(file: SLOFile, target: str) -> None:
    text, warnings = (to_ops if target == "ops" else to_openslo)(file)
    assert warnings == []
    assert text is not None
    again = parse_slo_file(text, "converted.yaml")
    assert again.service == file.service
    assert [comparable(s) for s in again.slos] == [comparable(s) for s in file.slos]


# -- the fixtures in each format -------------------------------------------------------------


def test_every_fixture_converts_to_ops_with_the_same_slis() -> None:
    for file in load_slo_files([str(FIXTURES)]):
        text, warnings = to_ops(file)
        assert text is not None
        again = parse_slo_file(text, "converted.yaml").slos
        for before, after in zip(file.slos, again, strict=True):
            assert (after.key, after.sli, after.objective) == (
                before.key,
                before.sli,
                before.objective,
            )
            same_window = after.window == before.window
            assert same_window or any(
                w.startswith(f"{before.place}: ops/v1 has calendar") for w in warnings
            )
            if before.alerting != Alerting():  # carried, tier by tier, as the rules read it
                for tier in ("page", "ticket"):
                    assert after.alerting.tier(tier) == before.alerting.tier(tier)
                assert (
                    after.alerting.windows,
                    after.alerting.min_events,
                    after.alerting.no_data,
                ) == (
                    before.alerting.windows,
                    before.alerting.min_events,
                    before.alerting.no_data,
                )
            else:
                assert comparable(after) == comparable(
                    dataclasses.replace(before, datasource=None, window=after.window)
                )


def test_openslo_alert_conditions_and_data_sources_survive_a_round_trip() -> None:
    (file,) = [
        f for f in load_slo_files([str(FIXTURES / "openslo")]) if f.service == "search-openslo"
    ]
    text, warnings = to_openslo(file)
    assert text is not None
    assert warnings == []
    again = parse_slo_file(text, "converted.yaml").slos
    assert [comparable(s) for s in again] == [comparable(s) for s in file.slos]


OPS_ALERTING = """\
version: ops/v1
service: api
slos:
  - name: availability
    objective: 99.9
    window: 30d
    alerting:
      min_events: 50
      windows:
        - {severity: page, long: 1h, short: 5m, factor: 14.4}
        - {severity: ticket, long: 1d, short: 2h, factor: 3, for: 30m}
      page: {name: ApiDown, labels: {team: api}, annotations: {summary: pages}}
      ticket: {disable: true}
    sli:
      ratio: {bad: 'x_total{code="500"}', total: x_total}
"""


def test_ops_alert_settings_survive_a_conversion_to_ops() -> None:
    """Was: dropped with a warning ('ops/v1 has no place for this SLO's alert settings'),
    though ops/v1 has had 'alerting:' since windows, min_events and tiers came."""
    file = parse_slo_file(OPS_ALERTING, "api.yaml")
    text, warnings = to_ops(file)
    assert warnings == []
    assert text is not None
    again = parse_slo_file(text, "converted.yaml")
    assert [comparable(s) for s in again.slos] == [comparable(s) for s in file.slos]


def test_openslo_alert_conditions_are_the_one_alert_setting_ops_drops() -> None:
    (file,) = [
        f for f in load_slo_files([str(FIXTURES / "openslo")]) if f.service == "search-openslo"
    ]
    _, warnings = to_ops(file)
    counted = [w for w in warnings if "alert conditions" in w]
    assert counted == [
        f"{slo.place}: ops/v1 has no place for OpenSLO alert conditions "
        f"({len(slo.alerting.conditions)}); dropped"
        for slo in file.slos
        if slo.alerting.conditions
    ]
    assert counted


# -- the command -----------------------------------------------------------------------------


def test_convert_writes_to_standard_output(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["slo", "convert", str(FIXTURES / "pyrra" / "search.yaml"), "--to", "ops"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"# Converted by 'ops slo convert --to ops' from {FIXTURES}/pyrra/search.yaml\n"
        "version: ops/v1\nservice: search-pyrra\n"
    )
    # [2] has burnrates off (Pyrra's absent alerts stay on): both tiers disabled, NoData kept.
    assert result.stderr == ""
    assert result.stdout.endswith(
        "  alerting:\n    page:\n      disable: true\n    ticket:\n      disable: true\n"
    )
    assert (
        "  alerting:\n    page:\n      name: SearchAvailabilityErrorBudgetBurn\n"
        "    ticket:\n      name: SearchAvailabilityErrorBudgetBurn\n"
    ) in result.stdout


def test_convert_writes_one_file_per_service(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        main,
        [
            "slo",
            "convert",
            str(FIXTURES / "sloth"),
            str(FIXTURES / "pyrra"),
            "--to",
            "openslo",
            "--dir",
            str(tmp_path),
            "--force",  # the raw SLIs cannot be written as OpenSLO
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "search-k8s.openslo.yaml",
        "search-pyrra.openslo.yaml",
        "search-sloth.openslo.yaml",
    ]
    converted = {s.key for f in load_slo_files([str(tmp_path)]) for s in f.slos}
    assert converted == {
        "search-k8s/availability",
        "search-pyrra/availability",
        "search-pyrra/answer-latency",
        "search-pyrra/answer-accuracy",
        "search-sloth/availability",
        "search-sloth/answer-latency",
    }  # the raw SLIs stay behind, each with a warning
    assert (
        result.stderr.count("a raw SLI is PromQL with {{window}} that OpenSLO cannot express") == 2
    )


def test_convert_needs_a_directory_for_several_files(runner: CliRunner) -> None:
    result = runner.invoke(main, ["slo", "convert", str(FIXTURES / "sloth"), "--to", "ops"])
    assert result.exit_code == 2
    assert "Error: 2 SLO files: give --dir DIR to write one file each" in result.output


def test_convert_never_overwrites_its_input(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "search-pyrra.yaml"
    source.write_text((FIXTURES / "pyrra" / "search.yaml").read_text())
    result = runner.invoke(
        main, ["slo", "convert", str(source), "--to", "ops", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.endswith(
        f"Error: {tmp_path}/search-pyrra.yaml: is one of the files being converted; choose "
        "another --dir\n"
    )


def test_nothing_to_write_is_an_error(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["slo", "convert", str(FIXTURES / "openslo" / "methods.yaml"), "--to", "openslo"]
    )
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"Error: {FIXTURES}/openslo/methods.yaml: nothing can be written as openslo\n"
    )


SLOTH_SILENT = NO_ALERTS["sloth"]  # both alerts disabled, as Sloth writes it


def test_a_sloth_slo_without_alerts_converts_to_ops_without_alerts() -> None:
    """Was: written with its alerts on, and a warning ('ops/v1 cannot turn off both page
    and ticket alerts of an SLO')."""
    file = parse_slo_file(SLOTH_SILENT, "api.yaml")
    text, warnings = to_ops(file)
    assert warnings == []
    assert text is not None
    assert text.endswith(
        "  alerting:\n    page:\n      disable: true\n    ticket:\n      disable: true\n"
        "    no_data: false\n"
    )
    again = parse_slo_file(text, "converted.yaml")
    assert [comparable(s) for s in again.slos] == [comparable(s) for s in file.slos]


def test_an_slo_that_cannot_be_written_is_an_error_without_force(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Was: a warning, exit 0, and a file without the SLO."""
    sloth = FIXTURES / "sloth" / "search.yaml"
    args = ["slo", "convert", str(sloth), "--to", "openslo", "--dir", str(tmp_path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"Warning: {sloth}: slos[2]: a raw SLI is PromQL with {{{{window}}}} that OpenSLO cannot "
        "express; this SLO is not written (keep it in ops/v1)\n"
        "Error: search-sloth/answer-accuracy: cannot be written as openslo (above); nothing "
        "written: give --force to write the other SLOs without them\n"
    )
    assert list(tmp_path.iterdir()) == []
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert [p.name for p in tmp_path.iterdir()] == ["search-sloth.openslo.yaml"]


OPENSLO_CALENDAR = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow:
    - duration: {duration}
      isRolling: false
      calendar:
        startTime: "{start}"
        timeZone: Europe/Berlin
  indicator:
    metadata: {{name: checkout-errors}}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource: {{type: Prometheus, spec: {{query: 'requests_total{{code=~"5.."}}'}}}}
        total:
          metricSource: {{type: Prometheus, spec: {{query: requests_total}}}}
  objectives:
    - target: 0.995
"""


@pytest.mark.parametrize(
    ("duration", "start", "calendar"),
    [
        pytest.param("1w", "2026-01-05 00:00:00", "week", id="a week from a Monday"),
        pytest.param("1M", "2026-03-01 00:00:00", "month", id="a month from the 1st"),
        pytest.param("1Q", "2026-04-01 00:00:00", "quarter", id="a quarter from 1 April"),
    ],
)
def test_an_openslo_calendar_from_its_natural_start_stays_a_calendar(
    duration: str, start: str, calendar: str
) -> None:
    """Was: written as a rolling window (a week from Monday 00:00 is ops/v1's calendar week)."""
    file = parse_slo_file(OPENSLO_CALENDAR.format(duration=duration, start=start), "shop.yaml")
    text, warnings = to_ops(file)
    assert warnings == []
    assert text is not None
    assert f"  calendar: {calendar}\n  timezone: Europe/Berlin\n" in text
    (before,) = file.slos
    (after,) = parse_slo_file(text, "converted.yaml").slos
    at = 1_790_000_000.0
    for moment in (at, at + 9 * 86400, at + 100 * 86400):  # the same periods
        assert after.window.period_start(moment) == before.window.period_start(moment)


def test_an_openslo_calendar_from_another_start_warns_it_becomes_rolling() -> None:
    file = parse_slo_file(
        OPENSLO_CALENDAR.format(duration="1w", start="2026-01-07 00:00:00"), "shop.yaml"
    )
    _, warnings = to_ops(file)
    assert warnings == [
        "shop.yaml: metadata.name: ops/v1 has calendar week, month or quarter from their "
        "natural start (Monday, the 1st), not calendar week from 2026-01-07T00:00:00 "
        "(Europe/Berlin); written as a ROLLING 7d window: its budget no longer resets at each "
        "period's start"
    ]


def test_alert_settings_openslo_cannot_hold_are_named() -> None:
    """Was: 'OpenSLO has no place for this SLO's alert settings', though alert policies
    (burn-rate conditions) are written and read."""
    file = parse_slo_file(OPS_ALERTING, "api.yaml")
    _, warnings = to_openslo(file)
    assert warnings == [
        "api.yaml: slos[0]: OpenSLO alert policies hold burn-rate conditions only; this SLO's "
        "window pairs, min_events, alert names, alert labels, alert annotations, disabled "
        "alerts have no place there; dropped"
    ]
