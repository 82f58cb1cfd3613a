"""Two flushers at once: every event lands in Parquet exactly once (the flush lease)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from feature_store.flush_lease import lease_key
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.flushing import flushed_ids, post_events, start_cli

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

EVENTS = 20_000


def _stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_two_one_pass_flushers_write_each_event_once(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    posted = post_events(store, EVENTS)
    flushers = [start_cli(settings, "events", "flush", "--batch", "500") for _ in range(2)]
    try:
        outputs = [process.communicate(timeout=600)[0] for process in flushers]
    finally:
        _stop(*flushers)
    assert [p.returncode for p in flushers] == [0, 0], outputs
    rows = flushed_ids(offline)
    print(f"events posted {len(posted)}, Parquet rows {len(rows)}")  # the figure
    for output in outputs:
        print(" ", " / ".join(output.strip().splitlines()))
    assert len(rows) == len(posted)
    assert Counter(rows).most_common(1)[0][1] == 1  # no id twice
    assert set(rows) == set(posted)


def _holder_pid(store: RedisOnlineStore) -> int | None:
    raw = store.redis.get(lease_key(store))
    return None if raw is None else int(raw.decode().split(":")[1])


def test_a_standby_daemon_takes_over_when_the_holder_is_killed(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    """Two ``--follow`` daemons: one flushes, the other waits; SIGKILL the first mid-stream."""
    materialize(store, offline)
    slow = {"RECSYS_FLUSH_PAUSE_AFTER_WRITE": "0.2"}  # so the kill lands mid-stream
    daemons = [
        start_cli(settings, "events", "flush", "--follow", "--batch", "50", "--lease-s", "2",
                  env=slow)
        for _ in range(2)
    ]  # fmt: skip
    try:
        posted = post_events(store, 2_000)
        while not flushed_ids(offline):
            assert all(d.poll() is None for d in daemons)
            time.sleep(0.05)
        holder = next(d for d in daemons if d.pid == _holder_pid(store))
        standby = next(d for d in daemons if d is not holder)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert len(set(flushed_ids(offline))) < len(posted)  # the standby has work to do
        posted += post_events(store, 500)  # and more arrives meanwhile
        deadline = time.monotonic() + 300
        while len(flushed_ids(offline)) < len(posted):
            assert standby.poll() is None, standby.communicate()[0]
            assert time.monotonic() < deadline, "the standby did not take over"
            time.sleep(0.1)
        standby.send_signal(signal.SIGTERM)
        output, _ = standby.communicate(timeout=60)
        assert standby.returncode == 0, output
    finally:
        _stop(*daemons)
    rows = flushed_ids(offline)
    assert len(rows) == len(posted) == len(set(rows))
    assert set(rows) == set(posted)


def test_a_one_pass_run_leaves_the_stream_to_a_running_daemon(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    daemon = start_cli(settings, "events", "flush", "--follow")
    try:
        while _holder_pid(store) != daemon.pid:
            assert daemon.poll() is None, daemon.communicate()[0]
            time.sleep(0.05)
        posted = post_events(store, 300)
        one_pass = start_cli(settings, "events", "flush", "--lease-s", "1")
        output, _ = one_pass.communicate(timeout=120)
        assert one_pass.returncode == 0, output
        assert f"another flusher ({store.redis.get(lease_key(store)).decode()})" in output
        assert "this run flushed nothing" in output
        while len(flushed_ids(offline)) < len(posted):  # the daemon flushes them
            assert daemon.poll() is None, daemon.communicate()[0]
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    finally:
        _stop(daemon)
    assert sorted(flushed_ids(offline)) == sorted(posted)
    assert store.redis.get(lease_key(store)) is None  # given back at exit
