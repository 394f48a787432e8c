"""Silences through a real Alertmanager's API v2: created with the group's matchers, expired."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ops_toolkit.demo.servers import AlertmanagerServer
from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.alertmanager import AlertmanagerClient, silence_body


def test_a_silence_is_created_visible_and_expired(tmp_path: Path) -> None:
    manager = AlertmanagerServer(str(tmp_path / "am"), "http://127.0.0.1:9/none", None).start()
    try:
        client = AlertmanagerClient(manager.url)
        now = time.time()
        body = silence_body(
            {"alertname": "SearchErrors", "service": "search"},
            now,
            now + 3600,
            "U0SEARCH01 via Slack",
            "Silence 1h from escalation 7",
        )
        silence_id = client.create_silence(body)
        found = client.silence(silence_id)
        assert found["status"]["state"] == "active"
        assert found["createdBy"] == "U0SEARCH01 via Slack"
        assert sorted((m["name"], m["value"], m["isRegex"]) for m in found["matchers"]) == [
            ("alertname", "SearchErrors", False),
            ("service", "search", False),
        ]
        assert client.expire_silence(silence_id) is True
        assert client.silence(silence_id)["status"]["state"] == "expired"
        assert client.expire_silence(silence_id) is True  # a second Unsilence: harmless
        assert client.expire_silence("00000000-0000-0000-0000-000000000000") is False
        with pytest.raises(MetricsError) as caught:
            client.silence("not-an-id")
        assert str(caught.value).startswith("Alertmanager GET /api/v2/silence/not-an-id: HTTP 422")
    finally:
        manager.stop()


def test_an_unreachable_alertmanager_is_a_metrics_error() -> None:
    with pytest.raises(MetricsError) as caught:
        AlertmanagerClient("http://127.0.0.1:9", timeout=2).create_silence({"matchers": []})
    assert str(caught.value) == (
        "Alertmanager POST /api/v2/silences: cannot connect to http://127.0.0.1:9: ConnectionError"
    )
