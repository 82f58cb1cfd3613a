"""Worker processes that each listen on the port themselves (``SO_REUSEPORT``).

uvicorn's ``--workers N`` binds one listening socket in the parent and hands it to every worker.
The worker that wakes first accepts every connection waiting (asyncio accepts up to ``backlog``
per wake-up), so a burst of new keep-alive connections lands on one worker while the other
idles: measured with wrk's 32 connections, a 99/1 % CPU split between two workers.

With ``SO_REUSEPORT`` every worker opens a listening socket of its own on the same address, and
the kernel spreads new connections over them by a hash of the peer's address and port.
``shared_port`` binds the parent's socket (``SO_REUSEPORT``, never listening): it claims the
port and fails early, in the parent, when the port is taken; uvicorn sends it to each worker
it spawns (restarts included), and unpickling it there opens that worker's own listening socket
on the same address. Only processes of the same user may join a ``SO_REUSEPORT`` port.
"""

from __future__ import annotations

import socket
from typing import Any

#: False where the platform has no ``SO_REUSEPORT`` (workers then share the parent's socket).
SUPPORTED = hasattr(socket, "SO_REUSEPORT")


def _reusable_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def listening_socket(family: int, address: tuple[Any, ...], backlog: int) -> socket.socket:
    """A worker's own listening socket on ``address`` (joins the port's ``SO_REUSEPORT`` group)."""
    sock = _reusable_socket(family)
    try:
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class SharedPort(socket.socket):
    """The parent's bound ``SO_REUSEPORT`` socket; a process that unpickles it gets a new
    listening socket on the same address (see the module docstring)."""

    backlog = 2048

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        # multiprocessing's pickler looks reducers up by exact type, so this subclass is
        # pickled here instead of having its descriptor duplicated
        return listening_socket, (int(self.family), self.getsockname(), self.backlog)


def shared_port(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The socket to give uvicorn's ``Multiprocess``: a ``SharedPort`` bound to ``host:port``
    (port 0: a free one, the same for all workers); a plain listening socket without
    ``SO_REUSEPORT`` support."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not SUPPORTED:  # pragma: no cover - Linux has it
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        return sock
    sock = SharedPort(family, socket.SOCK_STREAM)
    sock.backlog = backlog
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
