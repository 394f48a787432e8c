"""``ops store migrate``'s arguments, before any store is opened."""

from __future__ import annotations

from click.testing import CliRunner

from ops_toolkit.cli import main


def test_without_a_target_migrate_says_to_set_ops_state(runner: CliRunner) -> None:
    """Its help said ``--to ... (default: $OPS_STATE) [required]``, and leaving it out
    said only "Missing option '--to'" (a newcomer's finding)."""
    result = runner.invoke(
        main, ["store", "migrate", "--from", "sqlite:ops-state.db"], env={"OPS_STATE": ""}
    )
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: no target: set OPS_STATE=postgresql://USER:PASSWORD@HOST:PORT/DB (or give --to)\n"
    )
    helped = runner.invoke(main, ["store", "migrate", "--help"], env={"COLUMNS": "200"})
    to_option = helped.stdout.split("  --to ", 1)[1].split("  -o, ", 1)[0]
    assert "(default: $OPS_STATE" in to_option and "[required]" not in to_option
