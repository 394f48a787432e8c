"""Which runbook ``ops serve`` links for an alert: ``alerts:`` claims, else the file's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.serve.service import runbook_index

FIXTURES = Path(__file__).parent.parent / "runbook" / "fixtures"


def test_prometheus_operator_runbooks_are_linked_by_their_file_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FIXTURES / "prometheus-operator" / "content")
    assert runbook_index("runbooks") == {
        "AlertmanagerClusterDown": "runbooks/alertmanager/AlertmanagerClusterDown.md",
        "AlertmanagerFailedReload": "runbooks/alertmanager/AlertmanagerFailedReload.md",
        "PrometheusRuleFailures": "runbooks/prometheus/PrometheusRuleFailures.md",
    }


def test_an_alerts_claim_wins_over_a_file_named_after_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ApiDown.md").write_text("# Api down\n")
    (tmp_path / "rb" / "zz-api.md").write_text("---\nalerts: [ApiDown, ApiSlow]\n---\n")
    (tmp_path / "rb" / "restart-api.md").write_text("# Restart, named after no alert\n")
    assert runbook_index("rb") == {"ApiDown": "rb/zz-api.md", "ApiSlow": "rb/zz-api.md"}


def test_a_runbook_nested_too_deeply_is_skipped_and_the_others_are_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rb").mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "rb" / "ApiDown.md").write_text(
        f'# A\n\n```sh {{"name":"a","x":{deep}}}\ntrue\n```\n'
    )
    (tmp_path / "rb" / "DiskFull.md").write_text("+++\nx = " + "[" * 5000 + "]" * 5000 + "\n+++\n")
    (tmp_path / "rb" / "ApiSlow.md").write_text("# Api slow\n")
    assert runbook_index("rb") == {"ApiSlow": "rb/ApiSlow.md"}
