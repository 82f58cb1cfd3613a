"""Worker processes that each listen on the port themselves (``SO_REUSEPORT``).

uvicorn's ``--workers N`` binds one listening socket in the parent and hands it to every worker.
The worker that wakes first accepts every connection waiting (asyncio accepts up to ``backlog``
per wake-up), so a burst of new keep-alive connections lands on one worker while the other
idles: measured with wrk's 32 connections, a 99/1 % CPU split between two workers.

With ``SO_REUSEPORT`` every worker opens a socket of its own on the same address, and the
kernel spreads new connections over the listening ones by a hash of the peer's address and port.
``shared_port`` binds the parent's socket (``SO_REUSEPORT``, never listening): it claims the
port and fails early, in the parent, when the port is taken; uvicorn sends it to each worker
it spawns (restarts included), and unpickling it there binds that worker's own socket on the
same address. That socket starts listening only when the worker starts serving (asyncio's
``create_server`` calls ``listen()`` once the application's start-up has finished), so no
connection is queued on a worker that is still starting (loading its model for seconds, or
killed before it finishes): until then the kernel gives every connection to the workers
already serving. Only processes of the same user may join a ``SO_REUSEPORT`` port.
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


def worker_socket(family: int, address: tuple[Any, ...]) -> socket.socket:
    """A worker's own socket, bound to ``address`` and not listening yet: it joins the port's
    ``SO_REUSEPORT`` group, and takes connections, when the server calls ``listen()``."""
    sock = _reusable_socket(family)
    try:
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class SharedPort(socket.socket):
    """The parent's bound ``SO_REUSEPORT`` socket; a process that unpickles it gets a new
    socket bound to the same address, listening once it serves (see the module docstring)."""

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        # multiprocessing's pickler looks reducers up by exact type, so this subclass is
        # pickled here instead of having its descriptor duplicated
        return worker_socket, (int(self.family), self.getsockname())


def shared_port(host: str, port: int) -> socket.socket:
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
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
