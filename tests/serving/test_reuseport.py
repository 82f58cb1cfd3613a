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


def test_each_worker_listens_on_the_parents_port() -> None:
    with shared_port("127.0.0.1", 0) as parent:
        assert isinstance(parent, SharedPort)
        port = parent.getsockname()[1]
        with _as_worker_gets_it(parent) as one, _as_worker_gets_it(parent) as two:
            assert one.fileno() != two.fileno() != parent.fileno()
            for worker in (one, two):
                assert worker.getsockname() == ("127.0.0.1", port)
                assert worker.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                assert worker.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            # the kernel spreads connections over both listeners
            accepted = {one.fileno(): 0, two.fileno(): 0}
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
            try:
                for listener in (one, two):
                    listener.setblocking(False)
                    while True:
                        try:
                            conn, _ = listener.accept()
                        except BlockingIOError:
                            break
                        conn.close()
                        accepted[listener.fileno()] += 1
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
