"""Move events from the Redis Stream into the Parquet offline store, exactly once.

A consumer group gives at-least-once delivery: an entry stays pending until XACKed, and the
flusher acknowledges only after the Parquet file is written. A flusher killed between the write
and the ack re-reads its pending entries on restart (XREADGROUP from id 0) and drops the event
ids already in Parquet, so each event lands there exactly once. Acknowledged entries are then
trimmed from the stream (XTRIM MINID); unflushed entries are never trimmed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import redis

from feature_store.events import EventRecord
from feature_store.offline import OfflineStore
from feature_store.online import StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore, as_text

GROUP = "offline-flusher"
DEFAULT_CONSUMER = "flusher-1"
#: Test hook: seconds to sleep between writing a batch to Parquet and acknowledging it.
PAUSE_ENV = "RECSYS_FLUSH_PAUSE_AFTER_WRITE"
_CLAIM_IDLE_MS = 60_000
log = logging.getLogger(__name__)

Entry = tuple[str, dict[bytes, bytes]]


@dataclass
class FlushReport:
    """Counts since the flusher started."""

    read: int = 0
    written: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


class Flusher:
    """One consumer of the ``offline-flusher`` group on the event stream."""

    def __init__(
        self,
        store: RedisOnlineStore,
        offline: OfflineStore,
        *,
        batch: int = 500,
        consumer: str = DEFAULT_CONSUMER,
        pause_after_write_s: float = 0.0,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.store = store
        self.offline = offline
        self.batch = batch
        self.consumer = consumer
        self.pause_after_write_s = pause_after_write_s
        self.stream = store.keys.events
        self.dead_letters = f"{self.stream}:dead"
        self.report = FlushReport()
        self._seen: set[str] | None = None

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; reading starts at the top."""
        with self.store.guard():
            try:
                self.store.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def run_once(self) -> FlushReport:
        """Flush until the stream has nothing new: own pending entries first, then new ones."""
        self.ensure_group()
        self._drain(lambda: self._read("0"))  # entries this consumer read but never acked
        self._drain(self._claim_abandoned)  # entries of consumers that died long ago
        self._drain(lambda: self._read(">"))
        return self.report

    def run_forever(self, block_ms: int = 1_000, should_stop: Callable[[], bool] = bool) -> None:
        """Flush continuously; survive Redis outages by waiting and retrying."""
        backoff = 0.5
        while not should_stop():
            try:
                self.run_once()
                self._drain(lambda: self._read(">", block_ms=block_ms), until_empty=False)
                backoff = 0.5
            except StoreUnavailableError as exc:
                log.warning("flusher waiting for Redis: %s", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _drain(self, fetch: Callable[[], list[Entry]], until_empty: bool = True) -> None:
        while True:
            entries = fetch()
            if entries:
                self._process(entries)
            if not entries or not until_empty:
                return

    def _read(self, start: str, block_ms: int | None = None) -> list[Entry]:
        with self.store.guard():
            reply: Any = self.store.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: start}, count=self.batch, block=block_ms
            )
        if not reply:
            return []
        # RESP2 answers a list of [stream, entries]; RESP3 a dict {stream: [entries]}.
        entries = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
        return [(as_text(i), f) for i, f in entries if f]  # f is empty for trimmed entries

    def _claim_abandoned(self) -> list[Entry]:
        with self.store.guard():
            reply: Any = self.store.redis.xautoclaim(
                self.stream, GROUP, self.consumer, _CLAIM_IDLE_MS, "0-0", count=self.batch
            )
        return [(as_text(i), f) for i, f in reply[1] if f]

    def _process(self, entries: list[Entry]) -> None:
        if self._seen is None:
            self._seen = self.offline.event_ids()
        records: list[EventRecord] = []
        dead: list[tuple[str, dict[bytes, bytes], str]] = []
        for entry_id, fields in entries:
            try:
                records.append(EventRecord.from_fields(fields))
            except ValueError as exc:
                dead.append((entry_id, fields, str(exc)))
        fresh = [r for r in records if r.event_id not in self._seen]
        fresh = list({r.event_id: r for r in fresh}.values())  # repeats within the batch
        if fresh:
            frame = pd.DataFrame([r.model_dump(mode="python") for r in fresh])
            frame["event_type"] = frame["event_type"].astype(str)
            self.offline.append_events(frame)
            self._seen.update(r.event_id for r in fresh)
        if self.pause_after_write_s:
            time.sleep(self.pause_after_write_s)
        with self.store.guard():
            pipe = self.store.redis.pipeline(transaction=True)
            for _, fields, error in dead:
                pipe.xadd(self.dead_letters, {**fields, b"_error": error.encode()})
            pipe.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])
            pipe.execute()
            self._trim()
        self.report.read += len(entries)
        self.report.written += len(fresh)
        self.report.duplicates += len(records) - len(fresh)
        self.report.dead_lettered += len(dead)
        self.report.batches += 1

    def _trim(self) -> None:
        """Drop acknowledged entries: everything older than the oldest pending or unread one."""
        r = self.store.redis
        groups: Any = r.xinfo_groups(self.stream)
        if len(groups) != 1:
            return  # another group may still need the entries
        group = {as_text(k): v for k, v in groups[0].items()}
        if int(group["pending"]):
            oldest = as_text(r.xpending(self.stream, GROUP)["min"])
        else:
            ms, seq = as_text(group["last-delivered-id"]).split("-")
            oldest = f"{ms}-{int(seq) + 1}"
        r.xtrim(self.stream, minid=oldest, approximate=False)
