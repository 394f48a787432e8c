"""What ``ops slo rules`` says of each file it writes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT


def test_each_file_is_said_created_then_unchanged_then_updated(
    tmp_path: Path, runner: CliRunner
) -> None:
    """A new file read "(updated)" (a newcomer's finding)."""
    slos = tmp_path / "slos"
    slos.mkdir()
    (slos / "search.yaml").write_text((ROOT / "slos" / "search.yaml").read_text())
    out = tmp_path / "alerts"
    args = ["slo", "rules", str(slos), "--dir", str(out)]
    assert runner.invoke(main, args).stdout == f"{out}/search.rules.yaml (created)\n"
    assert runner.invoke(main, args).stdout == f"{out}/search.rules.yaml (unchanged)\n"
    (out / "search.rules.yaml").write_text("groups: []\n")
    assert runner.invoke(main, args).stdout == f"{out}/search.rules.yaml (updated)\n"
