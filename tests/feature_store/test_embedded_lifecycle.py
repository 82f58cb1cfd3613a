"""Lifecycle of the embedded Redis with real processes: real redis-server, real ``recsys`` runs.

The stories of the issue: one-shot commands used to leave a redis-server behind each (dozens
after a day), and a flusher run while the API's server was down started a second server on a
new socket that the API never found. Now the server has one socket per data dir, runs while
some process uses it, and the API reconnects to it once any command has started it again.
Processes are counted with ``pgrep -af redis-server`` (zombies left by a non-reaping init are
not running servers and are skipped).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from feature_store.offline import OfflineStore
from recommender.paths import redis_dir
from tests.feature_store.conftest import tiny_clients, tiny_interactions, tiny_items
from tests.feature_store.redis_server import free_port

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

ROOT = Path(__file__).resolve().parents[2]
RECSYS = str(Path(sys.executable).with_name("recsys"))
#: Generous bound for a state to be reached (startup of the API on a busy machine included).
WAIT_S = 120.0


def redis_servers() -> list[str]:
    """``pgrep -af redis-server`` lines of live processes (zombies are not servers)."""
    found = subprocess.run(["pgrep", "-af", "redis-server"], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "<defunct>" not in line]


def servers_of(data: Path) -> list[str]:
    """Live redis-servers of this data dir: Redis runs in its ``dir``, the data's redis folder."""
    folder = redis_dir(data).resolve()
    found = []
    for line in redis_servers():
        try:
            cwd = Path(os.readlink(f"/proc/{line.split()[0]}/cwd"))
        except OSError:  # it ended meanwhile
            continue
        if cwd == folder:
            found.append(line)
    return found


def eventually(condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def environment(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RECSYS_REDIS_URL")}
    return {**env, "RECSYS_DATA_DIR": str(data), **extra}


def recsys(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RECSYS, *args], env=environment(data), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir with a small offline snapshot; its server is stopped even after a failure."""
    root = tmp_path / "data"
    OfflineStore(root).write_snapshot(
        {"items": tiny_items(), "clients": tiny_clients(), "interactions": tiny_interactions()}
    )
    yield root
    recsys(root, "store", "stop", "--force")


def test_one_shot_commands_leave_no_redis_server(data: Path) -> None:
    before = len(redis_servers())
    commands = [
        ("features", "materialize"),
        ("features", "status"),
        ("events", "flush"),
        ("features", "status"),
    ]
    for command in commands:
        result = recsys(data, *command)
        assert result.returncode == 0, f"recsys {' '.join(command)}: {result.stderr}"
        assert eventually(lambda: not servers_of(data)), (command, servers_of(data))
    assert "clients: 5" in result.stdout  # every run found what the first one wrote
    status = recsys(data, "store", "status")
    assert status.returncode == 1 and "not running" in status.stdout
    after = len(redis_servers())
    # other processes on the machine may start and stop servers meanwhile: ours are zero
    assert not servers_of(data), f"{before} servers before, {after} after"


def _holder(data: Path, *, wait_for: Path | None = None) -> subprocess.Popen[str]:
    """A Python process that opens the store, prints the server's pid, then waits for stdin."""
    code = (
        "import sys, time, pathlib\n"
        f"go = {str(wait_for) if wait_for else ''!r}\n"
        "while go and not pathlib.Path(go).exists(): time.sleep(0.001)\n"
        "from feature_store.embedded import open_store\n"
        "store = open_store()\n"
        "store.put_blob('seen', b'1')\n"
        "print(store.redis.info()['process_id'], flush=True)\n"
        "sys.stdin.read()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment(data),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_processes_starting_at_once_share_one_server(data: Path) -> None:
    go = data / "go"
    holders = [_holder(data, wait_for=go) for _ in range(4)]
    try:
        time.sleep(0.5)  # let them reach the starting line (the imports are done after it)
        go.touch()
        pids = {holder.stdout.readline().strip() for holder in holders}  # type: ignore[union-attr]
        assert len(pids) == 1 and pids != {""} and pids != {"None"}, pids
        assert len(servers_of(data)) == 1, servers_of(data)
    finally:
        for holder in holders:
            holder.communicate()  # closes stdin: the holder exits
    assert eventually(lambda: not servers_of(data)), servers_of(data)


@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"]
)
def test_server_stops_when_its_last_user_ends_however_it_ends(
    data: Path, how: signal.Signals
) -> None:
    if how == signal.SIGINT:  # Ctrl-C of a long-running command
        user = subprocess.Popen(
            [RECSYS, "events", "flush", "--follow"],
            env=environment(data),
            stderr=subprocess.PIPE,
            text=True,
        )
        assert eventually(lambda: len(servers_of(data)) == 1)
    else:
        user = _holder(data)  # type: ignore[assignment]
        assert user.stdout is not None and user.stdout.readline().strip()
    with_visitor = recsys(data, "features", "status")  # a one-shot command joins and leaves
    assert with_visitor.returncode == 0, with_visitor.stderr
    assert len(servers_of(data)) == 1  # still used by the long-running one
    user.send_signal(how)
    user.wait(timeout=WAIT_S)
    assert eventually(lambda: not servers_of(data)), servers_of(data)


def test_store_stop_refuses_while_in_use_unless_forced(data: Path) -> None:
    holder = _holder(data)
    try:
        assert holder.stdout is not None
        pid = holder.stdout.readline().strip()
        status = recsys(data, "store", "status")
        assert status.returncode == 0, status.stdout
        assert f"running, pid {pid}" in status.stdout
        assert str(holder.pid) in status.stdout  # listed as a user
        refused = recsys(data, "store", "stop")
        assert refused.returncode == 1 and "in use" in refused.stderr
        assert servers_of(data)
        forced = recsys(data, "store", "stop", "--force")
        assert forced.returncode == 0 and f"stopped redis-server {pid}" in forced.stdout
        assert not servers_of(data)
    finally:
        holder.communicate()


def _ready(port: int) -> dict[str, object]:
    try:
        body: dict[str, object] = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        return body
    except (httpx.HTTPError, ValueError):
        return {}


def test_api_reconnects_when_a_one_shot_command_restarts_the_server(
    data: Path, tmp_path: Path
) -> None:
    from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS, fit_bundle

    model = fit_bundle(tmp_path / "model")
    port = free_port()
    env = environment(
        data,
        RECSYS_MODEL_DIR=str(model),
        RECSYS_ADMIN_KEY=ADMIN_KEY,
        RECSYS_MANAGER_KEYS=json.dumps(MANAGER_KEYS),
        RECSYS_RELOAD_POLL_S="0",
        RECSYS_STORE_RETRY_S="0.2",
    )
    log = tmp_path / "serve.log"
    api = subprocess.Popen(
        [RECSYS, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        assert eventually(lambda: _ready(port).get("status") == "ready"), log.read_text()
        assert len(servers_of(data)) == 1

        stopped = recsys(data, "store", "stop", "--force")  # the API's Redis goes away
        assert stopped.returncode == 0, stopped.stderr
        assert eventually(lambda: _ready(port).get("store") == "down")

        flushed = recsys(data, "events", "flush")  # starts it again, on the same socket
        assert flushed.returncode == 0, flushed.stderr
        assert eventually(lambda: _ready(port).get("status") == "ready"), _ready(port)
        assert api.poll() is None  # the same API process, never restarted
        assert len(servers_of(data)) == 1  # the flusher left it to the API that uses it
    finally:
        api.terminate()
        api.wait(timeout=WAIT_S)
    assert eventually(lambda: not servers_of(data)), servers_of(data)
