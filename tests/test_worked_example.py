"""The shipped worked example is real content: every runbook lints clean (strict)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.runbook.catalog import lint_paths, runbook_files
from tests.conftest import ROOT

RUNBOOK_FILES = runbook_files([str(ROOT / "runbooks")])


def test_there_are_at_least_four_runbooks() -> None:
    assert len(RUNBOOK_FILES) >= 4


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_runbook_lints_clean(path: str) -> None:
    assert [str(f) for f in lint_paths([path])] == []


def test_runbooks_together_claim_each_alert_once() -> None:
    assert [str(f) for f in lint_paths([str(ROOT / "runbooks")])] == []


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_runbook_has_the_standard_sections(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    for section in ("## Meaning", "## Impact", "## Diagnose", "## Mitigate", "## Escalate"):
        assert section in text, f"{path} lacks {section}"


def test_reports_need_slo_files_and_say_how(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ops_toolkit.cli import main

    result = CliRunner().invoke(main, ["slo", "report", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'none'}: no such file or directory; give SLO files or directories, "
        "or set slos: in ops.yaml\n"
    )
    no_url = CliRunner(env={"OPS_PROMETHEUS_URL": ""}).invoke(
        main, ["slo", "report", str(ROOT / "slos")]
    )
    assert no_url.output == (
        "Error: no Prometheus URL: pass --prometheus URL, set OPS_PROMETHEUS_URL, or put "
        "prometheus: in ops.yaml\n"
    )
