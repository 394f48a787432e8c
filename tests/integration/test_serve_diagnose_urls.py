"""An alert label that gives a runbook param a URL, in ``ops serve``'s unattended diagnosis,
must be a URL the operator allowed (``serve.diagnose_allowed_urls``): whoever can send an
alert otherwise chose the address the ``health-endpoint`` step fetches (SSRF). A URL not
listed stops the run before any step, and the thread says why.

A real ``ops serve`` (the real slack_sdk client against the local Slack-compatible API), the
real worked-example Prometheus, the demo's real search-API stand-in as the allowed host, and
a real HTTP server as the host an alert must not reach.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.search_api import SearchApiStandIn
from ops_toolkit.serve.diagnose import url_allowed
from tests.alerts.payloads import alert, notification
from tests.answering_server import AnsweringServer, answering_server
from tests.integration.serving import eventually
from tests.integration.test_serve import OpsServer
from tests.slack_api import SlackServer, slack_server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


@pytest.fixture
def stand_in() -> Iterator[SearchApiStandIn]:
    server = SearchApiStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def internal() -> Iterator[AnsweringServer]:
    """A service on the server's network that no alert should make ops serve fetch."""
    yield from answering_server()


def firing(group: str, url: str) -> dict[str, Any]:
    labels = alert(fingerprint=group, deploy="local", search_api_url=url)
    return notification(labels, group_key=group)


def test_a_label_may_give_a_param_only_a_url_the_operator_allowed(
    tmp_path: Path,
    slack: SlackServer,
    worked_prometheus: Any,
    stand_in: SearchApiStandIn,
    internal: AnsweringServer,
) -> None:
    server = OpsServer(
        tmp_path,
        slack,
        f"auto_diagnose: true\nprometheus: {worked_prometheus.url}\n",
        serve_extra=f"  diagnose_allowed_urls: [{stand_in.url}/]\n",
    ).start()
    try:
        assert server.post(firing("allowed", stand_in.url))[0] == 200
        assert server.post(firing("internal", internal.url))[0] == 200

        def replies() -> list[dict[str, Any]]:
            return [m for m in slack.state.posts("search-oncall") if m.get("thread_ts")]

        eventually(lambda: len(replies()) == 2, timeout=90)
        ran = next(m for m in replies() if "ran unattended" in m["text"])
        refused = next(m for m in replies() if "Could not run" in m["text"])
        body = json.dumps(ran["blocks"])
        assert "*health-endpoint* succeeded" in body
        assert refused["text"] == (
            ":mag: Could not run the diagnose steps of `search-errors`: param SEARCH_API_URL: "
            f"label search_api_url gives the URL '{internal.url}', which "
            "serve.diagnose_allowed_urls in ops.yaml does not list"
        )
        assert internal.requests == []  # not one request reached it
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8080/", True),
        ("http://127.0.0.1:8080/healthz", True),
        ("http://127.0.0.1:80801", False),
        ("http://127.0.0.1:8080.evil.example", False),
        ("http://127.0.0.1:8080@169.254.169.254", False),
        ("https://127.0.0.1:8080", False),
        ("http://127.0.0.1", False),
    ],
    ids=[
        "the URL itself",
        "with a trailing slash",
        "a path under it",
        "another port that starts the same",
        "another host that starts the same",
        "userinfo before another host",
        "another scheme",
        "another port (the default one)",
    ],
)
def test_a_url_is_allowed_only_as_itself_or_a_path_under_it(value: str, allowed: bool) -> None:
    assert url_allowed(value, "http://127.0.0.1:8080") is allowed
