"""The ports the test servers and the demo are started on."""

from __future__ import annotations

import socket

from ops_toolkit.demo.servers import _ephemeral_low, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_free_for_tcp_and_udp() -> None:
    """A port from ``bind(0)`` is ephemeral: an outgoing connection could take it before
    the server bound it (Alertmanager's gossip failed so, 'address already in use'); and
    gossip binds UDP on the same port."""
    for _ in range(20):
        port = free_port()
        assert 1024 <= port < _ephemeral_low()
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                sock.bind(("127.0.0.1", port))
