"""``ops serve`` with ``prometheus:`` pointing at a hostile server (or anything on its path):
an alert's budget query ends within its timeout however the answer trickles, the alert still
goes out, and SIGTERM stops the server while such a query is under way (an attacker saw it
grow to 8.5 GB on a gzip bomb and need SIGKILL). Real processes, real sockets on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops_toolkit.demo.servers import stop_process
from tests.alerts.payloads import notification
from tests.conftest import ROOT
from tests.hostile_prometheus import HostileServer, gzip_answer, gzip_bomb, trickling
from tests.integration.serving import ServeProcess, eventually

TOKEN = "tok-hostile-prom-123"
QUERY = 'sum(increase(http_requests_total{service="search-api",code=~"5.."}[30d]))'


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    """``ops serve`` over the worked example's SLOs, console notifier; ``prometheus:`` is
    written by the test before ``start``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPS_", "SLACK_"))}
    server = ServeProcess(
        tmp_path / "ops.yaml", {**env, "OPS_WEBHOOK_TOKEN": TOKEN}, tmp_path / "serve.log", TOKEN
    )
    yield server
    server.stop()


def configure(server: ServeProcess, tmp_path: Path, prometheus: str) -> None:
    server.config.write_text(
        "serve:\n"
        f"  state: {tmp_path / 'state.db'}\n"
        f"  messages: {tmp_path / 'messages.jsonl'}\n"
        f"runbooks: {ROOT / 'runbooks'}\n"
        f"slos: [{ROOT / 'slos'}]\n"
        f"prometheus:\n{prometheus}"
    )


def posted(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "messages.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sigterm_stops_serve_while_a_budget_query_is_held_by_a_trickling_server(
    serve: ServeProcess, tmp_path: Path
) -> None:
    with HostileServer(trickling(0.2)) as hostile:
        configure(serve, tmp_path, f"  url: {hostile.url}\n")
        serve.start()
        assert serve.post(notification())[0] == 200
        eventually(hostile.requested.is_set, what="no budget query reached the server")
        assert serve.process is not None
        serve.process.send_signal(signal.SIGTERM)  # while the query is being trickled
        stop_process(serve.process, grace=25)  # SIGKILL only after 25 s: checked below
    assert serve.process.returncode == -signal.SIGTERM  # uvicorn's way; not SIGKILLed
    log = serve.log.read_text()
    assert (
        f"budget of search/availability unavailable: search/availability: query '{QUERY}' "
        f"failed: cannot reach Prometheus at {hostile.url}: ops is stopping"
    ) in log
    assert "Traceback" not in log


def test_a_trickling_server_costs_the_budget_line_a_bounded_time_not_the_alert(
    serve: ServeProcess, tmp_path: Path
) -> None:
    """Each query has 3 s for its whole answer, and one budget lookup (several rounds of
    queries) 5 s in all: the alert goes out, without its budget."""
    with HostileServer(trickling(0.2)) as hostile:
        configure(serve, tmp_path, f"  url: {hostile.url}\n")
        serve.start()
        assert serve.post(notification())[0] == 200
        eventually(lambda: len(posted(tmp_path)) == 1, what="the alert was not posted")
        serve.stop()
    assert "SLO budget unavailable (Prometheus did not answer)" in str(posted(tmp_path)[0])
    assert (
        f"budget of search/availability unavailable: search/availability: query '{QUERY}' "
        f"failed: Prometheus at {hostile.url} did not answer within 3s (a budget lookup has 5s "
        "in all)"
    ) in serve.log.read_text()


def test_a_gzip_bomb_costs_the_budget_line_not_the_alert(
    serve: ServeProcess, tmp_path: Path
) -> None:
    with HostileServer(gzip_answer(gzip_bomb(64))) as hostile:
        configure(serve, tmp_path, f"  url: {hostile.url}\n  max_answer: 1MiB\n")
        serve.start()
        assert serve.post(notification())[0] == 200
        eventually(lambda: len(posted(tmp_path)) == 1, what="the alert was not posted")
        assert serve.process is not None
        serve.process.send_signal(signal.SIGTERM)
        stop_process(serve.process, grace=25)
    assert serve.process.returncode == -signal.SIGTERM
    log = serve.log.read_text()
    assert (
        f"budget of search/availability unavailable: search/availability: query '{QUERY}' "
        f"failed: cannot reach Prometheus at {hostile.url}: the gzip answer inflates past the "
        "1 MiB limit of an answer"
    ) in log
    assert "Traceback" not in log and "MemoryError" not in log
