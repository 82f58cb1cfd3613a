"""The flusher: stream -> Parquet exactly once, even when killed between write and ack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import redis

from feature_store.events import EventIn, EventLog
from feature_store.flush import GROUP, PAUSE_ENV, Flusher
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

ROOT = Path(__file__).resolve().parents[2]


def _post(store: RedisOnlineStore, n: int) -> list[str]:
    log = EventLog(store)
    ids: list[str] = []
    for k in range(n):
        kind = ("click", "purchase", "impression")[k % 3]
        ids += log.append(
            [EventIn(client_id=f"c{k % 5 + 1}", item_ids=["backup"], event_type=kind)]
        )
    return ids


def _flushed(offline: OfflineStore) -> list[str]:
    """Event ids in Parquet, repeats included (read_events would hide them)."""
    files = sorted(offline.root.glob("events/date=*/part-*.parquet"))
    return [i for f in files for i in pd.read_parquet(f)["event_id"]]


def test_flush_moves_events_once_and_trims(store: RedisOnlineStore, offline: OfflineStore) -> None:
    materialize(store, offline)
    ids = _post(store, 7)
    flusher = Flusher(store, offline, batch=3)
    report = flusher.run_once()
    assert sorted(_flushed(offline)) == sorted(ids)
    assert (report.read, report.written, report.batches) == (7, 7, 3)
    assert EventLog(store).length() == 0  # acknowledged entries are trimmed
    events = offline.read_events()
    assert set(events["event_type"]) == {"click", "purchase", "impression"}

    more = _post(store, 2)
    Flusher(store, offline, batch=3).run_once()
    assert sorted(_flushed(offline)) == sorted(ids + more)


def test_events_already_in_parquet_are_skipped(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    log = EventLog(store)
    event = EventIn(client_id="c1", item_ids=["backup"], event_type="click", event_id="e-1")
    log.append([event])
    Flusher(store, offline).run_once()
    log.append([event])  # a retried request: same id
    report = Flusher(store, offline).run_once()
    assert (report.read, report.written, report.duplicates) == (1, 0, 1)
    assert _flushed(offline) == ["e-1"]


def test_unread_entries_are_never_trimmed(store: RedisOnlineStore, offline: OfflineStore) -> None:
    materialize(store, offline)
    _post(store, 4)
    flusher = Flusher(store, offline, batch=2)
    flusher.ensure_group()
    assert flusher.lease.acquire()
    try:
        flusher._drain(lambda: flusher._read(">"), until_empty=False)  # one batch only
    finally:
        flusher.lease.release()
    assert EventLog(store).length() == 2


def _start_flusher(settings: OnlineStoreSettings, *extra: str, pause: float = 0.0):
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url.get_secret_value(),
        PAUSE_ENV: str(pause),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "feature_store.cli", "events", "flush"]
    command += ["--data-dir", str(settings.data_dir), "--batch", "3", *extra]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_sigkill_between_write_and_ack_loses_and_repeats_nothing(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    ids = _post(store, 20)
    flusher = _start_flusher(settings, pause=2.0)  # one pass: the default
    try:
        while not _flushed(offline):  # the first batch is in Parquet; its ack is 2 s away
            assert flusher.poll() is None, flusher.stdout.read() if flusher.stdout else ""
            time.sleep(0.05)
        flusher.send_signal(signal.SIGKILL)
        flusher.wait()
    finally:
        if flusher.poll() is None:
            flusher.kill()
    client: redis.Redis = store.redis
    pending = client.xpending(store.keys.events, GROUP)["pending"]
    assert pending == 3  # written to Parquet, never acknowledged
    assert 0 < len(_flushed(offline)) < len(ids)

    restarted = _start_flusher(settings)
    output, _ = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, output.decode()
    flushed = _flushed(offline)
    assert sorted(flushed) == sorted(ids)  # every event exactly once
    assert b"3 duplicates skipped" in output
    assert client.xpending(store.keys.events, GROUP)["pending"] == 0
