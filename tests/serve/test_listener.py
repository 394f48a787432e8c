"""The socket ``ops serve`` listens on."""

from __future__ import annotations

import asyncio
import socket

from ops_toolkit.serve.service import bind_listener


def test_accepted_connections_send_at_once_with_nagle_off() -> None:
    """The listener was made with protocol 0, so asyncio (which turns Nagle's algorithm off
    only for sockets that say they are TCP) left it on for every accepted connection: a
    response written as headers then body waited for the client's delayed ACK, 40 ms per
    request on a kept-alive connection (the intake's p99, issue 15)."""
    listener = bind_listener("127.0.0.1", 0)

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted = transport.get_extra_info("socket")
                seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Accept, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) == 1
