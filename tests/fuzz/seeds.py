"""Valid documents the fuzz targets start from, one registry per parser.

A new SLO format is one line in ``SLO_FORMATS``: its name and a valid example file in
``tests/fuzz/seeds/``; the SLO fuzz target runs once per entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.alerts.payloads import alert, notification
from tests.fuzz.hostile import Stream

SEEDS = Path(__file__).resolve().parent / "seeds"

SLO_FORMATS: dict[str, str] = {
    "ops/v1": "slo-ops-v1.yaml",
    "openslo/v1": "slo-openslo-v1.yaml",
    "sloth/prometheus-v1": "slo-sloth-v1.yaml",
    "sloth/PrometheusServiceLevel": "slo-sloth-k8s.yaml",
    "pyrra/ServiceLevelObjective": "slo-pyrra.yaml",
}


def load_seed(name: str) -> Any:
    """A seed file's documents: one tree, or a ``Stream`` when the file holds several."""
    documents = list(yaml.safe_load_all((SEEDS / name).read_text(encoding="utf-8")))
    return documents[0] if len(documents) == 1 else Stream(documents)


def keys_of(tree: Any) -> tuple[str, ...]:
    """Every mapping key in ``tree``: mutations add known keys in unexpected places."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(str(key) for key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return tuple(sorted(found))


# Keys the seeds do not show but the parsers know: mutations should reach them too.
SLO_EXTRA_KEYS = ("calendar", "timezone", "latency", "raw", "histogram", "selector", "below")
SLO_EXTRA_KEYS += ("bad_query", "total_query", "indicatorRef", "thresholdMetric", "raw")

ROUTES: dict[str, Any] = {
    "default": {"channel": "#alerts", "mention": "@here"},
    "routes": [
        {"match": {"service": "search", "severity": "page"}, "channel": "#search-oncall"},
        {
            "match_re": {"slo": "answer-accuracy|ingestion-freshness"},
            "channel": "C0123ABCD",
            "mention": "S0123ABCD",
            "continue": True,
        },
    ],
}

RUNBOOK: dict[str, Any] = {
    "front": {
        "title": "Search API returns errors",
        "owner": "team-search",
        "alerts": ["SearchAvailabilityBudgetBurn"],
        "params": {
            "SERVICE": {"default": "search-api", "pattern": "^[a-z0-9-]+$", "from_label": "x"},
            "REPLICAS": {"default": "3", "choices": ["1", "3"], "required": True},
            "TOKEN": {"secret": True, "description": "admin token"},
        },
        "secrets": ["SEARCH_ADMIN_TOKEN"],
        "shell": "bash",
        "cwd": "/tmp",
        "env": ["KUBECONFIG", "SEARCH_REGION"],
    },
    "steps": [
        {
            "kind": "promql",
            "attributes": {"name": "error-ratio", "tag": "diagnose", "expect": "< 0.05 or empty"},
            "code": 'sum(rate(http_requests_total{service="$SERVICE"}[5m]))',
        },
        {
            "kind": "sh",
            "attributes": {
                "name": "restart",
                "confirm": "true",
                "timeout": "5m",
                "retries": "1",
                "retry_delay": "10s",
                "expect": "/ok/",
                "capture": "OUT",
                "when": "SERVICE == 'search-api' and not DRY",
                "on_failure": "page",
                "cwd": ".",
                "interactive": "false",
            },
            "code": 'systemctl restart "$SERVICE"',
        },
        {"kind": "manual", "attributes": {"name": "page"}, "code": "Page the owner."},
    ],
}

WEBHOOK: dict[str, Any] = notification(
    alert(), alert("SearchAnswerLatencyBudgetBurn", "resolved", fingerprint="f2")
)

PROMETHEUS_ANSWERS: list[Any] = [
    {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"service": "search"}, "value": [1764400000.0, "0.25"]},
                {"metric": {}, "value": [1764400000.0, "NaN"]},
            ],
        },
    },
    {"status": "success", "data": {"resultType": "scalar", "result": [1764400000.0, "1"]}},
    {"status": "error", "errorType": "bad_data", "error": "parse error"},
]
