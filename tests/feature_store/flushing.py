"""Helpers of the flusher tests: post events, start ``events flush`` processes, count rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from feature_store.events import EventIn, EventLog
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings

ROOT = Path(__file__).resolve().parents[2]

#: A stream entry as ``EventRecord.to_fields`` writes it (the API accepted this one, 202).
GOOD_FIELDS = {
    "event_id": "placeholder",
    "client_id": "c1",
    "item_id": "backup",
    "event_type": "impression",
    "timestamp": "2024-05-01T10:00:00+00:00",
    "value": "1.0",
}
#: What the red-team run posted: a position no Parquet integer column can hold.
POISON_POSITION = "1180591620717411303424"


def post_events(store: RedisOnlineStore, n: int, *, chunk: int = 500) -> list[str]:
    """Post ``n`` click events (one item each) through ``EventLog``, ``chunk`` per MULTI."""
    log = EventLog(store)
    ids: list[str] = []
    for start in range(0, n, chunk):
        events = [
            EventIn(client_id=f"c{k % 5 + 1}", item_ids=["backup"], event_type="click")
            for k in range(start, min(n, start + chunk))
        ]
        ids += log.append(events)
    return ids


def raw_entry(store: RedisOnlineStore, **fields: str) -> str:
    """XADD an entry as it is, bypassing validation; returns its stream id."""
    entry_id = store.redis.xadd(store.keys.events, {**GOOD_FIELDS, **fields})
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def flushed_ids(offline: OfflineStore) -> list[str]:
    """Event ids in Parquet, repeats included (``read_events`` would hide them)."""
    files = sorted(offline.root.glob("events/date=*/part-*.parquet"))
    return [i for f in files for i in pd.read_parquet(f, columns=["event_id"])["event_id"]]


def start_cli(
    settings: OnlineStoreSettings, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``python -m feature_store.cli ARGS --data-dir ...`` on the settings' Redis."""
    assert settings.redis_url is not None
    environment = {
        **os.environ,
        "REDIS_URL": settings.redis_url.get_secret_value(),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    command = [sys.executable, "-m", "feature_store.cli", *args]
    command += ["--data-dir", str(settings.data_dir)]
    return subprocess.Popen(
        command,
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
