"""``ops slo report -o markdown`` links runbooks under ops.yaml's ``runbook_base_url``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus

BASE = "https://git.example.com/search/ops/-/blob/main"


def test_the_markdown_report_links_runbooks_under_the_base_url(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    config = tmp_path / "ops.yaml"
    config.write_text(f"runbook_base_url: {BASE}\n")
    args = ["slo", "report", str(ROOT / "slos"), "--prometheus", worked_prometheus.url]
    args += ["--at", str(worked_prometheus.end), "--config", str(config), "-o", "markdown"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "| availability |" in line)
    assert row.endswith(f"| [runbooks/search-errors.md]({BASE}/runbooks/search-errors.md) |"), row
