"""Move events from the Redis Stream into the Parquet offline store, exactly once.

A consumer group gives at-least-once delivery: an entry stays pending until XACKed, and the
flusher acknowledges only after the Parquet file is written. A flusher killed between the write
and the ack leaves its entries pending; the next one re-reads them (XREADGROUP from id 0, and
XAUTOCLAIM for other consumer names) and drops the event ids already in Parquet, so each event
lands there exactly once. Acknowledged entries are then trimmed from the stream (XTRIM MINID);
unflushed entries are never trimmed.

One flusher works at a time: it holds the flush lease (``feature_store.flush_lease``). Another
one-pass run waits for the lease a little and then leaves the stream to the holder; a
``--follow`` daemon stands by and takes over when the holder's lease expires.

Each entry is validated on its own (``EventRecord`` carries the bounds of the Parquet log)
before the batch is built. An entry that fails is moved to the dead-letter stream
(``feature_store.dead_letters``) in the MULTI/EXEC that acknowledges its batch, logged with its
id, and the flusher goes on with the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import redis
from pydantic import ValidationError

from feature_store.dead_letters import DeadLetters
from feature_store.events import EventRecord
from feature_store.flush_lease import DEFAULT_TTL_S, FlushLease, LeaseLostError
from feature_store.offline import OfflineStore
from feature_store.online import StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore, as_text
from feature_store.redis_topology import socket_timeout

GROUP = "offline-flusher"
DEFAULT_CONSUMER = "flusher-1"
#: Test hook: seconds to sleep between writing a batch to Parquet and acknowledging it.
PAUSE_ENV = "RECSYS_FLUSH_PAUSE_AFTER_WRITE"
#: The lease makes this flusher the only one at work, so entries pending for another consumer
#: name were left by a flusher that is gone: claim them at once.
_CLAIM_IDLE_MS = 0
#: Errors a Parquet write raises for bad data (a full disk raises ``OSError``, not these).
_DATA_ERRORS = (ValueError, TypeError, OverflowError)
_MAX_ERROR_CHARS = 1_000
log = logging.getLogger(__name__)

Entry = tuple[str, dict[bytes, bytes]]
Row = tuple[Entry, EventRecord]


@dataclass
class FlushReport:
    """Counts since the flusher started."""

    read: int = 0
    written: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)
    #: The flush lease's holder when this one-pass run did not get it (and flushed nothing).
    lease_holder: str | None = None


@dataclass(frozen=True)
class Unwritable:
    """A stream entry that cannot go to Parquet, and why."""

    entry_id: str
    fields: dict[bytes, bytes]
    error: str
    field: str | None

    @classmethod
    def of(cls, entry: Entry, exc: Exception) -> Unwritable:
        if isinstance(exc, ValidationError):
            problems = exc.errors()
            where = [".".join(str(part) for part in p["loc"]) for p in problems]
            error = "; ".join(f"{w}: {p['msg']}" for w, p in zip(where, problems, strict=True))
            return cls(entry[0], entry[1], error[:_MAX_ERROR_CHARS], where[0] or None)
        return cls(entry[0], entry[1], f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS], None)


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
        lease_ttl_s: float = DEFAULT_TTL_S,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.store = store
        self.offline = offline
        self.batch = batch
        self.consumer = consumer
        self.pause_after_write_s = pause_after_write_s
        self.stream = store.keys.events
        self.lease = FlushLease(store, lease_ttl_s)
        self.dead_letters = DeadLetters(store)
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

    def run_once(self, wait_s: float | None = None) -> FlushReport:
        """Take the lease and flush until the stream has nothing new.

        While another flusher holds the lease, wait up to ``wait_s`` seconds (default: the
        lease's ttl and one second, time enough for the lease of a dead holder to expire);
        then flush nothing and name the holder in ``report.lease_holder``.
        Raises ``LeaseLostError`` if the lease expires while flushing (see ``flush_lease``).
        """
        wait = self.lease.ttl_ms / 1000 + 1.0 if wait_s is None else wait_s
        if not self.lease.acquire(wait):
            self.report.lease_holder = self.lease.holder() or "another flusher"
            return self.report
        try:
            self._flush_all()
        finally:
            self.lease.release()
        return self.report

    def run_forever(self, block_ms: int = 1_000, should_stop: Callable[[], bool] = bool) -> None:
        """Flush continuously: stand by while another flusher holds the lease, and survive
        Redis outages by waiting and retrying."""
        block_ms = self.block_ms(block_ms)
        backoff = 0.5
        standing_by = False
        try:
            while not should_stop():
                try:
                    if not self.lease.acquire():
                        if not standing_by:
                            holder = self.lease.holder()
                            log.warning("flusher standing by: %s holds the flush lease", holder)
                        standing_by = True
                        time.sleep(self.lease.ttl_ms / 4_000)
                        continue
                    if standing_by:
                        log.warning("flusher took over the flush lease")
                    standing_by = False
                    self._flush_all()
                    backoff = 0.5
                    while not should_stop():
                        read_new = lambda: self._read(">", block_ms=block_ms)  # noqa: E731
                        self._drain(read_new, until_empty=False)
                except LeaseLostError as exc:
                    log.warning("flusher stopped writing: %s", exc)
                except StoreUnavailableError as exc:
                    log.warning("flusher waiting for Redis: %s", exc)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            self.lease.release()

    def block_ms(self, wanted: int) -> int:
        """``wanted``, capped at half the socket timeout: a blocking read that lasts as long
        as the timeout races it, and a healthy but idle Redis would read as down."""
        timeout = socket_timeout(self.store.redis)
        if not timeout:
            return wanted
        return max(1, min(wanted, int(float(timeout) * 500)))

    def _flush_all(self) -> None:
        self._seen = None  # another flusher may have written since: re-read Parquet's ids
        self.ensure_group()
        self._drain(lambda: self._read("0"))  # entries this consumer read but never acked
        self._drain(self._claim_abandoned)  # entries of consumers that are gone
        self._drain(lambda: self._read(">"))

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
        fresh: dict[str, Row] = {}
        dead: list[Unwritable] = []
        duplicates = 0
        for entry in entries:
            try:
                record = EventRecord.from_fields(entry[1])
            except ValueError as exc:  # pydantic's ValidationError, UnicodeDecodeError
                dead.append(Unwritable.of(entry, exc))
                continue
            if record.event_id in self._seen or record.event_id in fresh:
                duplicates += 1  # already flushed, or repeated within the batch
            else:
                fresh[record.event_id] = (entry, record)
        self.lease.confirm()
        written, refused = self._write(list(fresh.values()))
        dead += refused
        self._seen.update(written)
        if self.pause_after_write_s:
            time.sleep(self.pause_after_write_s)
        self.lease.confirm()
        with self.store.guard():
            pipe = self.store.redis.pipeline(transaction=True)
            for letter in dead:
                self.dead_letters.add(
                    pipe, letter.entry_id, letter.fields, letter.error, letter.field
                )
            pipe.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])
            pipe.execute()
            self._trim()
        for letter in dead:
            log.warning(
                "stream entry %s cannot be written to Parquet, moved to %s: %s",
                letter.entry_id,
                self.dead_letters.key,
                letter.error,
            )
        self.report.read += len(entries)
        self.report.written += len(written)
        self.report.duplicates += duplicates
        self.report.dead_lettered += len(dead)
        self.report.batches += 1

    def _write(self, rows: list[Row]) -> tuple[list[str], list[Unwritable]]:
        """Append ``rows`` to Parquet; returns the event ids written and the rows refused.

        A safety net, as every row was validated: when Parquet still refuses the batch, the
        rows not yet written (a batch over several days writes a file per day) are halved
        until the refused ones are found, O(log n) writes per refused row.
        """
        if not rows:
            return [], []
        try:
            frame = pd.DataFrame([record.model_dump(mode="python") for _, record in rows])
            frame["event_type"] = frame["event_type"].astype(str)
            self.offline.append_events(frame)
        except _DATA_ERRORS as exc:
            present = self.offline.event_ids()
            done = [r.event_id for _, r in rows if r.event_id in present]
            rest = [row for row in rows if row[1].event_id not in present]
            if len(rest) <= 1:
                return done, [Unwritable.of(row[0], exc) for row in rest]
            half = len(rest) // 2
            first, first_refused = self._write(rest[:half])
            second, second_refused = self._write(rest[half:])
            return done + first + second, first_refused + second_refused
        return [record.event_id for _, record in rows], []

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
