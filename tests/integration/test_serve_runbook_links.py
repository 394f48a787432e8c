"""``ops serve`` links an alert's runbook under ops.yaml's ``runbook_base_url``, the
``runbook_url`` annotation too.

Before: rules generated without a base URL carry ``runbook_url: runbooks/x.md``; serve passed
that annotation on as it was, and the Slack message showed it as text with "(set
runbook_base_url to link it)" although ops.yaml set it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.payloads import alert, notification
from tests.integration.test_serve import OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

BASE = "https://git.example.com/search/ops/-/blob/main"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


def with_runbook_annotation(path: str) -> dict[str, Any]:
    firing = alert()
    firing["annotations"]["runbook_url"] = path
    return notification(firing)


def posted(server: OpsServer, slack: SlackServer, body: dict[str, Any]) -> dict[str, Any]:
    try:
        server.start()
        assert server.post(body)[0] == 200
        eventually(lambda: len(slack.state.posts("search-oncall")) == 1)
        return slack.state.posts("search-oncall")[0]
    finally:
        server.stop()


def runbook_parts(message: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The Runbook button's URL, and the context lines that speak of the runbook."""
    blocks = message["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    buttons = [
        element["url"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") == "runbook" or "Runbook" in element["text"]["text"]
    ]
    lines = [
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
        if "Runbook" in element.get("text", "")
    ]
    return buttons, lines


def test_a_relative_runbook_url_annotation_is_linked_under_the_base_url(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = OpsServer(tmp_path, slack)  # its ops.yaml sets runbook_base_url: BASE
    message = posted(server, slack, with_runbook_annotation("runbooks/search-errors.md"))
    assert runbook_parts(message) == ([f"{BASE}/runbooks/search-errors.md"], [])


def test_a_full_runbook_url_annotation_stays_as_it_is(tmp_path: Path, slack: SlackServer) -> None:
    url = "https://runbooks.prometheus-operator.dev/runbooks/general/targetdown"
    message = posted(OpsServer(tmp_path, slack), slack, with_runbook_annotation(url))
    assert runbook_parts(message) == ([url], [])


def test_the_hint_to_set_the_base_url_only_when_it_is_unset(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = OpsServer(tmp_path, slack)
    text = server.config.read_text(encoding="utf-8")
    server.config.write_text(
        "".join(x for x in text.splitlines(True) if not x.startswith("runbook_base_url:")),
        encoding="utf-8",
    )
    message = posted(server, slack, with_runbook_annotation("runbooks/search-errors.md"))
    assert runbook_parts(message) == (
        [],
        [":book: Runbook: `runbooks/search-errors.md` (set runbook_base_url to link it)"],
    )


def test_ops_runbook_base_url_links_them_as_in_every_command(
    tmp_path: Path, slack: SlackServer
) -> None:
    """``ops serve`` chooses the base URL as ``ops slo rules`` does: the variable over
    ops.yaml."""
    server = OpsServer(tmp_path, slack)
    server.env["OPS_RUNBOOK_BASE_URL"] = "https://env.example/ops"
    message = posted(server, slack, with_runbook_annotation("runbooks/search-errors.md"))
    assert runbook_parts(message) == (["https://env.example/ops/runbooks/search-errors.md"], [])
