"""Keeps one embedded redis-server alive exactly as long as some process uses it.

Run by ``feature_store.embedded_server`` as ``python -I embedded_supervisor.py CONFIG USERS_LOCK``
(the redis-server binary comes in ``RECSYS_REDIS_SERVER_BIN``, so this process's command line
never matches ``pgrep redis-server``). It starts redis-server as its child, then waits for
whichever comes first:

* every user is gone: each process that uses the server holds a shared ``flock`` on USERS_LOCK
  for its life, and the kernel drops it however the process ends (exit, Ctrl-C, SIGTERM,
  SIGKILL), so an exclusive lock granted here means nobody uses the server. It is stopped with
  SIGTERM (Redis saves and flushes its append-only file) while the exclusive lock is held, so a
  process arriving meanwhile waits, finds no server and starts a fresh one;
* the server exits on its own (``recsys store stop``, a crash): nothing left to supervise.

Standard library only: it starts in a few milliseconds and does not import the project.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import threading

BINARY_ENV = "RECSYS_REDIS_SERVER_BIN"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this supervisor dies (Linux; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to do
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_no_users(users_lock: str, server: subprocess.Popen[bytes]) -> None:
    with open(users_lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while any user holds its shared lock
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait()


def main(config: str, users_lock: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the users
    server = subprocess.Popen(
        [os.environ[BINARY_ENV], config],
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # single-threaded at this point
    )
    watcher = threading.Thread(target=_wait_for_no_users, args=(users_lock, server), daemon=True)
    watcher.start()
    return server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
