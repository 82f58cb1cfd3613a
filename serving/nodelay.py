"""uvicorn's HTTP protocol with ``TCP_NODELAY`` on every connection.

With ``--workers N`` uvicorn hands the workers a socket rebuilt with ``socket.fromfd``, whose
``proto`` is 0, so asyncio's automatic ``TCP_NODELAY`` is skipped; headers and body then go out
as two small segments and Nagle plus the peer's delayed ACK add about 40 ms to every response.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """``H11Protocol`` that switches Nagle's algorithm off for its connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]
