"""Which runbook ``ops serve`` links for an alert: ``alerts:`` claims, else the file's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.serve.service import repository_path, runbook_index

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


def test_a_runbook_link_is_taken_from_the_repository_root_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer ran ``ops serve --config serve/ops.yaml`` from ``serve/`` with runbooks in
    another checkout: the link read ``<base>/../../z5/runbooks/x.md``."""
    repository = tmp_path / "ops-repo"
    (repository / ".git").mkdir(parents=True)
    (repository / "runbooks").mkdir()
    (repository / "runbooks" / "search-errors.md").write_text("---\nalerts: [SearchErrors]\n---\n")
    elsewhere = tmp_path / "work" / "serve"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    path = runbook_index(str(repository / "runbooks"))["SearchErrors"]
    assert repository_path(path, str(elsewhere / "ops.yaml")) == "runbooks/search-errors.md"


def test_without_a_repository_a_runbook_link_is_taken_from_the_ops_yaml_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "runbooks" / "db").mkdir(parents=True)
    (project / "runbooks" / "db" / "DiskFull.md").write_text("# Disk full\n")
    monkeypatch.chdir(project / "runbooks")
    path = runbook_index(str(project / "runbooks"))["DiskFull"]
    assert repository_path(path, str(project / "ops.yaml")) == "runbooks/db/DiskFull.md"
    outside = tmp_path / "other" / "ops.yaml"
    assert repository_path(path, str(outside)) == path
