"""Finding runbooks: listing and linting directories of them, whatever is in them."""

from __future__ import annotations

from pathlib import Path

from ops_toolkit.runbook.catalog import alert_index, load_runbooks, runbook_files

FIXTURES = Path(__file__).parent / "fixtures"
OPERATOR = FIXTURES / "prometheus-operator" / "content" / "runbooks"


def test_hugo_section_pages_are_not_runbooks() -> None:
    assert [Path(p).relative_to(OPERATOR).as_posix() for p in runbook_files([str(OPERATOR)])] == [
        "alertmanager/AlertmanagerClusterDown.md",
        "alertmanager/AlertmanagerFailedReload.md",
        "prometheus/PrometheusRuleFailures.md",
    ]


def test_a_runbook_named_after_an_alert_is_that_alerts_runbook() -> None:
    runbooks = load_runbooks([str(OPERATOR)])
    assert [r.alert_names for r in runbooks] == [
        ("AlertmanagerClusterDown",),
        ("AlertmanagerFailedReload",),
        ("PrometheusRuleFailures",),
    ]
    index = alert_index(runbooks)
    assert index["AlertmanagerClusterDown"].title == "Alertmanager Cluster Down"
