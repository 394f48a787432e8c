"""The gate's budget grammar and SLO objectives at the command line: clear refusals."""

from __future__ import annotations

from pathlib import Path

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
