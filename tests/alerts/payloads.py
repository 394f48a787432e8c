"""Alertmanager webhook v4 payloads for tests."""

from __future__ import annotations

import copy
from typing import Any


def alert(
    name: str = "SearchAvailabilityBudgetBurn",
    status: str = "firing",
    *,
    fingerprint: str = "f1",
    starts: str = "2026-11-29T12:00:00.123456789Z",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": name,
            "service": "search",
            "slo": "availability",
            "severity": "page",
            "team": "search",
            **labels,
        },
        "annotations": {"summary": f"{name} summary", "description": "burning fast"},
        "startsAt": starts,
        "endsAt": "2026-11-29T13:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def notification(
    *alerts: dict[str, Any],
    status: str | None = None,
    group_key: str = '{}:{alertname="SearchAvailabilityBudgetBurn"}',
) -> dict[str, Any]:
    alerts = alerts or (alert(),)
    common = dict(alerts[0]["labels"])
    for item in alerts[1:]:
        common = {k: v for k, v in common.items() if item["labels"].get(k) == v}
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status
        or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved"),
        "receiver": "ops",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": common,
        "commonAnnotations": dict(alerts[0]["annotations"]) if len(alerts) == 1 else {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [copy.deepcopy(a) for a in alerts],
    }
