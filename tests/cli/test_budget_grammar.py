"""The gate's budget grammar and SLO objectives at the command line: clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main


def test_a_bare_min_remaining_above_one_is_refused_with_the_percentage_it_meant(
    runner: CliRunner,
) -> None:
    """Before: '--min-remaining 40' was a range error; '0.4' in ops.yaml meant 0.4%."""
    result = runner.invoke(main, ["slo", "gate", "search/availability", "--min-remaining", "40"])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for --min-remaining: expected N% or a fraction from 0 to 1, got "
        "'40' (did you mean 40%?)\n"
    )


def test_a_policy_gate_in_the_old_percent_form_is_refused(
    tmp_path: Path, runner: CliRunner
) -> None:
    config = tmp_path / "ops.yaml"
    config.write_text("policies:\n  - {channel: '#a', gate: 0.4}\n  - {channel: '#b', gate: 40}\n")
    result = runner.invoke(main, ["slo", "gate", "search/availability", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}: policies[1].gate: expected N% or a fraction from 0 to 1, got 40 "
        "(did you mean 40%?)\n"
    )


def test_an_objective_written_as_a_fraction_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    """Before: 'objective: 0.999' was read as a 0.999% objective, a budget of 99%."""
    path = tmp_path / "search.yaml"
    path.write_text(
        "version: ops/v1\nservice: search\nslos:\n  - name: availability\n    objective: 0.999\n"
        "    sli: {ratio: {bad: 'errors_total', total: 'requests_total'}}\n"
    )
    result = runner.invoke(main, ["slo", "validate", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: slos[0].objective: objectives are percentages, got 0.999 (did you mean "
        "99.9?)\n"
    )


def test_posting_without_a_slack_token_says_what_to_set(tmp_path: Path, runner: CliRunner) -> None:
    """Before: '--post' without SLACK_BOT_TOKEN printed to the console and exited 0: under
    cron the report went nowhere, for ever."""
    env = {"SLACK_BOT_TOKEN": None, "OPS_PROMETHEUS_URL": None}
    config = tmp_path / "ops.yaml"
    config.write_text("reports:\n  - {name: weekly, cron: '0 9 * * MON', channel: '#a'}\n")
    for args in (["--post", "#search"], ["--once", "--name", "weekly"]):
        result = runner.invoke(main, ["slo", "report", "--config", str(config), *args], env=env)
        assert result.exit_code == 1
        assert result.output == (
            f"Error: {args[0]} posts to Slack: set SLACK_BOT_TOKEN (and SLACK_API_URL for a "
            "Slack-compatible API), or pass --console (or 'notifier: console' in ops.yaml) to "
            "print the messages instead\n"
        )


def test_notifier_in_ops_yaml_is_console_or_slack(tmp_path: Path, runner: CliRunner) -> None:
    config = tmp_path / "ops.yaml"
    config.write_text("notifier: slak\n")
    result = runner.invoke(main, ["slo", "report", "--config", str(config), "--post", "#a"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {config}: notifier: expected console or slack, got 'slak'\n",
    )


def test_serve_says_at_start_where_messages_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops_toolkit.config import parse_config
    from ops_toolkit.serve.service import make_notifier, notifier_description

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)

    for text, why in (("", "no SLACK_BOT_TOKEN"), ("notifier: console\n", "notifier: console")):
        config = parse_config(text + f"serve: {{messages: {tmp_path}/m.jsonl}}\n", "ops.yaml")
        assert notifier_description(make_notifier(config), config) == (
            f"notifier console ({why}): messages to this terminal and {tmp_path}/m.jsonl"
        )


@pytest.mark.parametrize(
    ("written", "points"),
    [("5%", 5.0), ("0.05", 5.0), ("2.5%", 2.5), ("0", 0.0)],
    ids=["a percentage", "a fraction", "a fractional percentage", "none"],
)
def test_a_policy_hysteresis_is_a_budget_amount(
    tmp_path: Path, written: str, points: float
) -> None:
    from ops_toolkit.config import load_config

    config = tmp_path / "ops.yaml"
    config.write_text(
        f"policies:\n  - {{channel: '#a', thresholds: [50%], hysteresis: {written}}}\n"
    )
    assert load_config(str(config)).policies[0].hysteresis == points


@pytest.mark.parametrize(
    ("written", "error"),
    [
        ("5", "expected N% or a fraction from 0 to 1, got 5 (did you mean 5%?)"),
        ("150%", "expected N% or a fraction from 0 to 1, got '150%' (a percentage is 0% to 100%)"),
        ("five", "expected N% or a fraction from 0 to 1, got 'five'"),
        ("true", "expected N% or a fraction from 0 to 1, got True"),
    ],
    ids=["a bare number above 1", "over 100%", "a word", "a boolean"],
)
def test_a_policy_hysteresis_outside_the_grammar_is_refused_at_its_path(
    tmp_path: Path, runner: CliRunner, written: str, error: str
) -> None:
    """Before: 'hysteresis: 5' was 5 percent points while 'thresholds: [0.5]' meant 50%, and
    'hysteresis: 5%' was refused."""
    config = tmp_path / "ops.yaml"
    config.write_text(
        "policies:\n  - {channel: '#a', thresholds: [50%]}\n"
        f"  - {{channel: '#b', thresholds: [50%], hysteresis: {written}}}\n"
    )
    result = runner.invoke(main, ["slo", "gate", "search/availability", "--config", str(config)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {config}: policies[1].hysteresis: {error}\n",
    )
