"""A store holding one open escalation, for the commands that read one."""

from __future__ import annotations

from pathlib import Path

from ops_toolkit.escalate.oncall import load_oncall
from ops_toolkit.serve.escalations import Escalations
from ops_toolkit.serve.store import Store
from tests.conftest import ROOT

ONCALL = str(ROOT / "alerts" / "oncall.yaml")
T0 = 1_780_000_000.0


def a_store_with_one_escalation(path: Path, now: float = T0) -> Escalations:
    """The worked example's `search` policy, opened for group ``g1`` at ``now``."""
    escalations = Escalations(Store(str(path)), load_oncall(ONCALL))
    escalations.on_notification(
        group_key="g1",
        channel="#search-oncall",
        policy_name="search",
        status="firing",
        name="SearchErrors",
        labels={"alertname": "SearchErrors"},
        runbook=None,
        message={"text": "FIRING"},
        now=now,
    )
    return escalations
