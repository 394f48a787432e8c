"""A hostile or broken Prometheus (or anything on the path to it) must not hurt ops: each
answer is bounded in size (as sent, and once inflated) and each exchange in time, and what
goes wrong is one line naming the limit, never a MemoryError, a traceback or a hang.

From an attacker's findings: a 1 MB gzip answer inflated to 1 GiB per query took ``ops slo
report`` to 10.5 GB; ``Content-Length: 99999999999999``, endless chunks and a body framed by
the end of the connection were kept until MemoryError; a server trickling a byte every few
seconds, or sending ``100 Continue`` forever, held ``--timeout 5`` forever. Each case runs
the real ``ops`` command against a real hostile server on 127.0.0.1 (tests/hostile_prometheus.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.http11 import MAX_ANSWER
from ops_toolkit.metrics.prometheus import PrometheusSource
from tests.conftest import ROOT
from tests.hostile_prometheus import (
    ENDLESS_CHUNKED,
    ENDLESS_CONTINUE,
    HUGE_LENGTH,
    UNTIL_CLOSED,
    Behaviour,
    HostileServer,
    MiB,
    gzip_answer,
    gzip_bomb,
    trickling,
)

QUERY = 'sum(increase(http_requests_total{service="search-api",code=~"5.."}[30d]))'
SLO = """\
version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli:
      ratio:
        bad: http_requests_total{service="search-api",code=~"5.."}
        total: http_requests_total{service="search-api"}
"""


@pytest.fixture
def slo_file(tmp_path: Path) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(SLO)
    return path


def report(
    slo_file: Path, server: HostileServer, *, timeout: str = "30", max_answer: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``ops slo report`` of the one SLO against ``server``; with ``max_answer``, through an
    ops.yaml that sets it. A report still running after 120 s is a hang: killed, and the
    test fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    argv = [sys.executable, "-m", "ops_toolkit", "slo", "report", str(slo_file)]
    argv += ["--timeout", timeout, "--direct"]
    if max_answer is None:
        argv += ["--prometheus", server.url]
    else:
        config = slo_file.parent / "ops.yaml"
        config.write_text(f"prometheus:\n  url: {server.url}\n  max_answer: {max_answer}\n")
        env["OPS_CONFIG"] = str(config)
    try:
        return subprocess.run(
            argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"ops slo report --timeout {timeout} still ran after 120 s")


def failed(server: HostileServer, reason: str) -> str:
    return f"Error: search/availability: query '{QUERY}' failed: {reason}\n"


@pytest.fixture(scope="module")
def bomb_past_the_default_limit() -> bytes:
    """A gzip answer of about 160 KB that inflates to 16 MiB past ``MAX_ANSWER``."""
    return gzip_bomb(MAX_ANSWER // MiB + 16)


def test_a_gzip_bomb_is_inflated_only_up_to_the_answer_limit_set_in_ops_yaml(
    slo_file: Path,
) -> None:
    with HostileServer(gzip_answer(gzip_bomb(64))) as server:
        result = report(slo_file, server, max_answer="1MiB")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == failed(
        server,
        f"cannot reach Prometheus at {server.url}: the gzip answer inflates past the 1 MiB "
        "limit of an answer",
    )


def test_the_default_limit_stops_a_gzip_bomb_within_its_memory(
    bomb_past_the_default_limit: bytes,
) -> None:
    with HostileServer(gzip_answer(bomb_past_the_default_limit)) as server:
        source = PrometheusSource(server.url, timeout=120, environ={})
        tracemalloc.start()
        try:
            with pytest.raises(MetricsError) as raised:
                source.query("up")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert str(raised.value) == (
        f"cannot reach Prometheus at {server.url}: the gzip answer inflates past the 128 MiB "
        "limit of an answer"
    )
    assert peak < MAX_ANSWER * 1.5  # inflated up to the limit, and no further


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        pytest.param(
            HUGE_LENGTH,
            "a Content-Length of 99999999999999 bytes, over the 1 MiB limit of an answer",
            id="a length of 100 TB, streamed",
        ),
        pytest.param(
            ENDLESS_CHUNKED, "a body over the 1 MiB limit of an answer", id="chunks forever"
        ),
        pytest.param(
            UNTIL_CLOSED,
            "a body over the 1 MiB limit of an answer",
            id="a body framed by a close that never comes",
        ),
        pytest.param(
            ENDLESS_CONTINUE, "more than 10 interim 1xx answers", id="100 Continue forever"
        ),
    ],
)
def test_an_endless_answer_stops_at_its_limit_in_one_line(
    slo_file: Path, behaviour: Behaviour, reason: str
) -> None:
    with HostileServer(behaviour) as server:
        result = report(slo_file, server, max_answer="1MiB")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == failed(
        server, f"cannot reach Prometheus at {server.url}: not a valid HTTP answer ({reason})"
    )


def test_a_length_over_the_default_limit_is_refused_before_its_body_is_read(
    slo_file: Path,
) -> None:
    with HostileServer(HUGE_LENGTH) as server:
        result = report(slo_file, server)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == failed(
        server,
        f"cannot reach Prometheus at {server.url}: not a valid HTTP answer (a Content-Length of "
        "99999999999999 bytes, over the 128 MiB limit of an answer)",
    )


@pytest.fixture
def trickle() -> Iterator[HostileServer]:
    """A server that sends a byte of its answer every 0.2 s, forever: each read is quick."""
    with HostileServer(trickling(0.2)) as server:
        yield server


def test_a_trickled_answer_ends_at_the_commands_timeout(
    slo_file: Path, trickle: HostileServer
) -> None:
    result = report(slo_file, trickle, timeout="2")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == failed(
        trickle,
        f"Prometheus at {trickle.url} did not answer within 2s (--timeout bounds the whole "
        "command)",
    )


def test_a_trickled_answer_ends_at_a_querys_timeout(trickle: HostileServer) -> None:
    """Without a command's deadline (a runbook's promql step, ops serve's budgets), the
    timeout of one query bounds its whole exchange, not each read."""
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(trickle.url, timeout=1, environ={}).query("up")
    assert str(raised.value) == f"Prometheus at {trickle.url} did not answer within 1s"
