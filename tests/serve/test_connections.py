"""The connection caps of ``ops serve``, from the open-file limit or ops.yaml."""

from __future__ import annotations

import logging

import pytest

from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError
from ops_toolkit.serve.connections import ConnectionCount, ConnectionLimits, connection_limits


@pytest.mark.parametrize(
    ("open_files", "total", "per_client", "expected"),
    [
        pytest.param(256, None, None, ConnectionLimits(192, 48), id="a 256-file limit keeps 64"),
        pytest.param(1024, None, None, ConnectionLimits(768, 192), id="a quarter kept at 1024"),
        pytest.param(
            524288, None, None, ConnectionLimits(4096, 1024), id="at most 4096 however many files"
        ),
        pytest.param(1024, 100, None, ConnectionLimits(100, 25), id="per client from a given cap"),
        pytest.param(1024, 100, 500, ConnectionLimits(100, 100), id="per client within the cap"),
        pytest.param(1024, None, 3, ConnectionLimits(768, 3), id="per client given alone"),
        pytest.param(65, None, None, ConnectionLimits(1, 1), id="one connection at least"),
    ],
)
def test_the_caps(
    open_files: int, total: int | None, per_client: int | None, expected: ConnectionLimits
) -> None:
    assert connection_limits(open_files, total, per_client) == expected


def test_a_cap_the_open_files_cannot_hold_is_an_error_at_start() -> None:
    with pytest.raises(ConfigError) as error:
        connection_limits(1024, 800, None, "deploy/ops.yaml")
    assert str(error.value) == (
        "deploy/ops.yaml: serve.max_connections: 800 is more than the open-file limit allows "
        "(1024 open files leave room for 768 connections); raise the limit (ulimit -n, or "
        "LimitNOFILE= in systemd) or lower max_connections"
    )
    with pytest.raises(ConfigError) as error:
        connection_limits(64)
    assert str(error.value) == (
        "the open-file limit (RLIMIT_NOFILE) is 64: ops serve needs more than 64; raise it "
        "(ulimit -n, or LimitNOFILE= in systemd)"
    )


def test_a_connection_over_a_cap_is_named_with_the_cap_and_closing_makes_room() -> None:
    count = ConnectionCount(ConnectionLimits(total=3, per_client=2))
    assert [count.opened("10.0.0.1"), count.opened("10.0.0.1")] == [None, None]
    assert count.opened("10.0.0.1") == (
        "too many connections from 10.0.0.1 (2, serve.max_connections_per_client)"
    )
    assert count.opened("10.0.0.2") == "too many connections (3, serve.max_connections)"
    count.closed("10.0.0.1")
    count.closed("10.0.0.1")
    assert count.opened("10.0.0.2") is None
    count.closed("10.0.0.1")
    count.closed("10.0.0.2")
    count.closed("10.0.0.2")
    assert (count.total, dict(count.by_client)) == (0, {})


def test_ops_yaml_sets_the_caps() -> None:
    serve = parse_config(
        "serve: {max_connections: 500, max_connections_per_client: 50}\n", "ops.yaml"
    ).serve
    assert (serve.max_connections, serve.max_connections_per_client) == (500, 50)
    defaults = parse_config("", "ops.yaml").serve
    assert (defaults.max_connections, defaults.max_connections_per_client) == (None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "serve: {max_connections: 0}\n",
            "ops.yaml: serve.max_connections: expected a whole number from 1 to 1,000,000, got 0",
        ),
        (
            "serve: {max_connections_per_client: 2.5}\n",
            "ops.yaml: serve.max_connections_per_client: expected a whole number, got 2.5",
        ),
        (
            "serve: {max_connections: true}\n",
            "ops.yaml: serve.max_connections: expected a whole number, got True",
        ),
    ],
)
def test_bad_caps_name_their_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "ops.yaml")
    assert str(error.value) == message


def test_refused_connections_are_logged_at_the_first_then_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ops_toolkit.serve.server import RefusalLog

    now = [100.0]
    log = RefusalLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="ops.serve"):
        log.refused("too many connections (3, serve.max_connections)")
        for _ in range(4):
            now[0] += 10
            log.refused("too many connections (3, serve.max_connections)")
        now[0] += 30  # 70 s after the first line
        log.refused("too many connections from 10.0.0.1 (2, serve.max_connections_per_client)")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 1 connection with 503: too many connections (3, serve.max_connections)",
        "refused 5 connections with 503: too many connections from 10.0.0.1 (2, "
        "serve.max_connections_per_client)",
    ]
