"""The worker supervisor of ``recsys serve --workers N`` (``serving.supervisor``), with real
processes: a worker whose start-up holds the GIL longer than uvicorn's health check is let
start, and a replacement whose start-up fails does not stop the worker that serves.

The app is ``tests.serving.stall_app``; the health check is shortened to ``CHECK_S`` and the
start-up holds the GIL for ``STALL_FACTOR`` times that (``recsys serve`` keeps uvicorn's 5 s,
which a start-up under load exceeded). ``SUPERVISOR=uvicorn`` in the environment runs the same
tests on uvicorn's own ``Multiprocess``, where they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.feature_store.redis_server import free_port
from tests.serving.conftest import eventually
from tests.serving.live import stop

CHECK_S = 1.0
STALL_FACTOR = 3
#: How long the tests wait for workers that start (many times the stall).
PATIENCE_S = 60 * CHECK_S * STALL_FACTOR

RUNNER = """
import sys
from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess
from serving.reuseport import shared_port
from serving.supervisor import Supervisor

port, check_s, kind = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
config = Config(
    "tests.serving.stall_app:create_app", factory=True, host="127.0.0.1", port=port,
    workers=2, timeout_worker_healthcheck=check_s,
)
sockets = [shared_port("127.0.0.1", port)]
if kind == "uvicorn":
    Multiprocess(config, sockets).run()
else:
    Supervisor(config, sockets, startup_s=600).run()
"""


class Service:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.log = tmp_path / "supervisor.log"
        self.fail_file = tmp_path / "fail"
        env = {
            **os.environ,
            "STALL_APP_STALL_S": str(STALL_FACTOR * CHECK_S),
            "STALL_APP_FAIL_FILE": str(self.fail_file),
        }
        kind = os.environ.get("SUPERVISOR", "recsys")
        command = [sys.executable, "-c", RUNNER, str(self.port), str(CHECK_S), kind]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def pid(self) -> int | None:
        """The pid of the worker that answers a new connection; None without an answer."""
        try:
            return int(httpx.get(f"http://127.0.0.1:{self.port}/", timeout=30).json())
        except httpx.HTTPError:
            return None

    def serving_pids(self, tries: int = 40) -> set[int]:
        return {p for p in (self.pid() for _ in range(tries)) if p is not None}

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    started = Service(tmp_path)
    yield started
    stop(started.process)


def test_workers_whose_start_up_holds_the_gil_are_let_start(service: Service) -> None:
    assert eventually(lambda: len(service.serving_pids()) == 2, PATIENCE_S), service.output()
    assert "died" not in service.output()
    assert service.output().count("Application startup complete") == 2


def test_a_replacement_that_fails_to_start_does_not_stop_the_serving_worker(
    service: Service,
) -> None:
    assert eventually(lambda: len(service.serving_pids()) == 2, PATIENCE_S), service.output()
    victim, survivor = sorted(service.serving_pids())
    service.fail_file.touch()
    answers: list[int | None] = []
    stop_asking = threading.Event()

    def ask() -> None:
        while not stop_asking.is_set():
            answers.append(service.pid())

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        os.kill(victim, signal.SIGKILL)
        assert eventually(lambda: "failed to start" in service.output(), PATIENCE_S)
        since_dead = len(answers)  # the victim is gone by now: the survivor answers alone
        assert eventually(lambda: service.output().count("failed to start") >= 2, PATIENCE_S)
    finally:
        stop_asking.set()
        asking.join()
    assert service.process.poll() is None, service.output()
    assert answers.count(None) <= 1  # at most the request the SIGKILL cut
    assert len(answers) > since_dead
    assert set(answers[since_dead:]) == {survivor}

    service.fail_file.unlink()  # the cause goes away: the next try starts a worker
    assert eventually(lambda: len(service.serving_pids()) == 2, PATIENCE_S), service.output()
    assert victim not in service.serving_pids()
