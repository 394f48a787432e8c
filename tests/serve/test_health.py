"""``/healthz``: 503 only when intake cannot commit; delivery trouble is a degraded 200."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from ops_toolkit.serve.metrics import assess_health, render_metrics

HEALTHY = {
    "outbox_depth": 2.0,
    "outbox_oldest_age_seconds": 12.34,
    "inbox_depth": 3.0,
    "outbox_dead": 0.0,
    "inbox_dead": 0.0,
}


def body(**changes: Any) -> dict[str, Any]:
    return {
        "status": "ok",
        "intake": "ok",
        "delivery": "ok",
        "outbox_depth": 2,
        "outbox_oldest_age_seconds": 12.3,
        "inbox_depth": 3,
        "dead": 0,
        "inbox_dead": 0,
        **changes,
    }


@pytest.mark.parametrize(
    ("stats", "backlog", "alive", "expected"),
    [
        pytest.param(HEALTHY, 0, True, (200, body()), id="all well"),
        pytest.param(
            {**HEALTHY, "outbox_dead": 1.0},
            0,
            True,
            (200, body(delivery="degraded", dead=1)),
            id="a dead letter degrades delivery, not health",
        ),
        pytest.param(
            {**HEALTHY, "inbox_dead": 2.0},
            0,
            True,
            (200, body(delivery="degraded", inbox_dead=2)),
            id="a dead inbox entry degrades delivery",
        ),
        pytest.param(
            {**HEALTHY, "outbox_oldest_age_seconds": 301.0},
            0,
            True,
            (200, body(delivery="degraded", outbox_oldest_age_seconds=301.0)),
            id="an outbox older than 5 minutes degrades delivery",
        ),
        pytest.param(
            HEALTHY,
            8,
            True,
            (503, body(status="full", intake="inbox over its bound of 10")),
            id="an inbox over its bound cannot take more",
        ),
        pytest.param(
            sqlite3.DatabaseError("file is not a database"),
            0,
            True,
            (
                503,
                {
                    "status": "unavailable",
                    "intake": "store unavailable",
                    "detail": "DatabaseError: file is not a database",
                },
            ),
            id="a store that fails cannot commit (the detail is for the token holder)",
        ),
        pytest.param(
            HEALTHY,
            0,
            False,
            (503, {"status": "unavailable", "intake": "the intake writer has stopped"}),
            id="a stopped writer cannot commit",
        ),
    ],
)
def test_health(
    stats: dict[str, float] | Exception,
    backlog: int,
    alive: bool,
    expected: tuple[int, dict[str, Any]],
) -> None:
    assert assess_health(stats, backlog, 10, alive) == expected


def test_metrics_show_degraded_delivery_and_the_new_counters() -> None:
    text = render_metrics({**HEALTHY, "outbox_dead": 1.0, "inbox_dead_letters": 4.0})
    assert "ops_delivery_degraded 1.0" in text
    assert "ops_intake_up 1.0" in text
    assert "ops_inbox_dead_letters_total 4.0" in text
    assert "ops_delivery_degraded 0.0" in render_metrics(HEALTHY)
