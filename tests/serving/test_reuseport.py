"""``recsys serve --workers N``: each worker listens on its own ``SO_REUSEPORT`` socket."""

from __future__ import annotations

import socket
from multiprocessing.reduction import ForkingPickler

import pytest

from serving.reuseport import SUPPORTED, SharedPort, shared_port

pytestmark = pytest.mark.skipif(not SUPPORTED, reason="no SO_REUSEPORT on this platform")


def _as_worker_gets_it(sock: socket.socket) -> socket.socket:
    """What a worker unpickles from the sockets uvicorn's ``Multiprocess`` sends it."""
    worker_sock: socket.socket = ForkingPickler.loads(ForkingPickler.dumps(sock))
    return worker_sock


def _accept_all(listener: socket.socket) -> int:
    listener.setblocking(False)
    accepted = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return accepted
        conn.close()
        accepted += 1


def test_each_worker_listens_on_the_parents_port_once_it_serves() -> None:
    with shared_port("127.0.0.1", 0) as parent:
        assert isinstance(parent, SharedPort)
        port = parent.getsockname()[1]
        with _as_worker_gets_it(parent) as one, _as_worker_gets_it(parent) as two:
            assert one.fileno() != two.fileno() != parent.fileno()
            for worker in (one, two):
                assert worker.getsockname() == ("127.0.0.1", port)
                assert worker.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
                # still starting: not listening, so it is given no connection
                assert not worker.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port)).close()

            one.listen()  # what asyncio's create_server does once the app has started
            early = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
            try:
                assert _accept_all(one) == 32  # the one serving worker takes them all
            finally:
                for client in early:
                    client.close()

            two.listen()
            # both serve: the kernel spreads new connections over both listeners
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
            try:
                accepted = {n: _accept_all(listener) for n, listener in enumerate((one, two))}
            finally:
                for client in clients:
                    client.close()
            assert sum(accepted.values()) == 64
            assert min(accepted.values()) > 0


def test_a_taken_port_fails_in_the_parent() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError):
            shared_port("127.0.0.1", other.getsockname()[1])
