"""uvicorn's worker supervisor, with room for a worker to start and for one to fail starting.

uvicorn's ``Multiprocess`` pings every worker each 0.5 s and kills one that does not answer
within ``timeout_worker_healthcheck`` (5 s). The answer comes from a thread of the worker, which
needs the GIL; a worker that is starting (a fresh interpreter importing the service, numba
compiling or loading its kernels, a model being fetched and checked) holds it for seconds at a
time, more on a loaded machine (up to 1.8 s measured during a cold numba compile; a fresh
interpreter took 4 s to first answer with the two cores busy). So a replacement started under
load was killed before it could serve, again and again. And a worker that exits because its
start-up failed makes uvicorn stop the parent and every other worker, even those serving.

``Supervisor`` changes two things, and nothing for a worker that serves:

- a worker that has not finished starting has ``startup_s`` to do so: it gets one ping at a
  time and is killed only when it is dead or still unanswered after ``startup_s``; its answers
  say whether its server has started, from then on it gets uvicorn's 5 s check;
- a worker whose start-up fails while another worker serves is started again after a pause
  (doubling, at most ``MAX_RETRY_S``) instead of stopping the service; with no worker serving
  (a broken configuration at launch) the parent stops, as uvicorn does.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass
from socket import socket

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")

#: Longest pause before starting again a worker whose start-up failed.
MAX_RETRY_S = 60.0
FIRST_RETRY_S = 1.0


@dataclass
class _Starting:
    """A worker that has not said it serves yet."""

    since: float
    ping_sent: bool = False


class Supervisor(Multiprocess):
    """``Multiprocess`` with a start-up grace and retried start-up failures (module docs)."""

    def __init__(self, config: Config, sockets: list[socket], startup_s: float) -> None:
        super().__init__(config, sockets)
        self.startup_s = startup_s
        self._starting: dict[int, _Starting] = {}
        self._serving: set[int] = set()
        #: Slot -> when its worker, whose start-up failed, is started again.
        self._waiting: dict[int, float] = {}
        #: Slot -> the pause after its next start-up failure (until its worker serves).
        self._pause: dict[int, float] = {}

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if idx in self._waiting:
                if time.monotonic() >= self._waiting[idx]:
                    del self._waiting[idx]
                    self._replace(idx)
                continue
            if self._healthy(process):
                if process.pid in self._serving:
                    self._pause.pop(idx, None)
                continue
            process.kill()  # hung: kill it
            process.join()
            self._forget(process)
            if self.should_exit.is_set():
                return
            if process.exitcode == STARTUP_FAILURE:
                if not self._serving:
                    logger.error(
                        f"Child process [{process.pid}] failed to start and no worker serves: "
                        "stopping the parent process."
                    )
                    self.should_exit.set()
                    return
                pause = self._pause.get(idx, FIRST_RETRY_S)
                logger.error(
                    f"Child process [{process.pid}] failed to start (its log says why); "
                    f"{len(self._serving)} worker(s) keep serving; another starts in {pause:.0f} s"
                )
                self._pause[idx] = min(2 * pause, MAX_RETRY_S)
                self._waiting[idx] = time.monotonic() + pause
                continue
            logger.info(f"Child process [{process.pid}] died")
            self._replace(idx)

    def _healthy(self, process: Process) -> bool:
        if process.pid in self._serving:
            return process.is_alive(timeout=self.config.timeout_worker_healthcheck)
        if not process.process.is_alive():
            return False
        state = self._starting.setdefault(process.pid or 0, _Starting(time.monotonic()))
        try:
            if not state.ping_sent:
                process.parent_conn.send(b"ping")
                state.ping_sent = True
            if process.parent_conn.poll(0):
                state.ping_sent = False
                if process.parent_conn.recv():  # its server has started
                    self._starting.pop(process.pid or 0, None)
                    self._serving.add(process.pid or 0)
                return True
        except (OSError, EOFError, pickle.UnpicklingError):
            return False
        if time.monotonic() - state.since < self.startup_s:
            return True
        logger.error(f"Child process [{process.pid}] did not start in {self.startup_s:.0f} s")
        return False

    def _replace(self, idx: int) -> None:
        process = Process(self.config, self.sockets)
        process.start()
        self.processes[idx] = process

    def _forget(self, process: Process) -> None:
        self._starting.pop(process.pid or 0, None)
        self._serving.discard(process.pid or 0)
