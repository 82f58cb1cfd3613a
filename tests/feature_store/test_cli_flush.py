"""``recsys events flush``: one pass by default, a daemon only with ``--follow``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feature_store.events import EventIn, EventLog
from feature_store.flush_lease import lease_key
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.flushing import start_cli

ROOT = Path(__file__).resolve().parents[2]


def _post(store: RedisOnlineStore, n: int) -> list[str]:
    log = EventLog(store)
    ids: list[str] = []
    for k in range(n):
        ids += log.append(
            [EventIn(client_id=f"c{k % 5 + 1}", item_ids=["backup"], event_type="click")]
        )
    return ids


def _flush(settings: OnlineStoreSettings, *extra: str) -> subprocess.Popen[str]:
    assert settings.redis_url is not None
    env = {**os.environ, "REDIS_URL": settings.redis_url.get_secret_value()}
    command = [sys.executable, "-m", "feature_store.cli", "events", "flush",
               "--data-dir", str(settings.data_dir), *extra]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(offline: OfflineStore, ids: list[str], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not set(ids) <= set(offline.read_events()["event_id"]):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "events not flushed in 120 s"
        time.sleep(0.1)


def test_flush_is_one_pass_by_default(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    ids = _post(store, 7)
    process = _flush(settings)
    output, _ = process.communicate(timeout=120)  # returns by itself: no --once needed
    assert process.returncode == 0, output
    assert "flushed 7 events" in output
    assert sorted(offline.read_events()["event_id"]) == sorted(ids)
    assert "Ctrl-C" not in output


def test_follow_keeps_flushing_until_sigterm(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    first = _post(store, 4)
    process = _flush(settings, "--follow")
    try:
        _wait_for(offline, first, process)
        later = _post(store, 3)  # arrives while the daemon runs
        _wait_for(offline, later, process)
        assert process.poll() is None  # still running after the stream was drained
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "flushed 7 events" in output


def test_once_and_follow_exclude_each_other(settings: OnlineStoreSettings) -> None:
    process = _flush(settings, "--once", "--follow")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "--follow" in output


@pytest.mark.parametrize("socket_timeout", [None, "0.3"])
def test_an_idle_daemon_does_not_report_a_healthy_redis_as_down(
    settings: OnlineStoreSettings, store: RedisOnlineStore, socket_timeout: str | None
) -> None:
    """Its blocking read ends before the socket timeout (it used to race it and lose)."""
    env = {} if socket_timeout is None else {"RECSYS_SOCKET_TIMEOUT_S": socket_timeout}
    process = start_cli(settings, "events", "flush", "--follow", env=env)
    try:
        while not store.redis.exists(lease_key(store)):  # it is in its loop
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.05)
        time.sleep(4)  # several blocking reads on an empty stream
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "flushed 0 events" in output
    assert "waiting for Redis" not in output
    assert "Timeout" not in output


def test_the_cli_default_lease_is_the_flushers() -> None:
    from feature_store.cli import DEFAULT_LEASE_S
    from feature_store.flush_lease import DEFAULT_TTL_S

    assert DEFAULT_LEASE_S == DEFAULT_TTL_S
