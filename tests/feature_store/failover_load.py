"""Load on a running API while Redis fails over: reads, events and a flusher, all counted.

``FailoverLoad`` drives an in-process API (``TestClient``) from two threads - one reads client
recommendations, one posts events with their own ids (clicks, and purchases that change owned
sets in the clients' slots) - while a flusher thread moves the stream to Parquet. Every answer
is counted by status, every refusal by its reason; the ids of posted and of accepted events
(202) are kept, to compare with Parquet (``check_nothing_lost``).

``stall_replication`` makes a master's replica fall behind for real: with the replica paused,
enough data fills the kernel's socket buffers that the writes after it wait in the master's
memory, so a SIGKILL of the master loses them. An event answered 202 must not be one of them.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from fastapi.testclient import TestClient

from feature_store.flush import Flusher
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from tests.feature_store.flushing import flushed_ids


@dataclass
class LoadCounts:
    reads: Counter[int] = field(default_factory=Counter)
    degraded_reads: int = 0
    posts: Counter[int] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    #: 503 answers by reason (``refusal_reason``), and those without a Retry-After header.
    refusals: Counter[str] = field(default_factory=Counter)
    refused_without_retry_after: int = 0
    #: When the first and the last degraded read or refused event happened (monotonic).
    first_failure: float | None = None
    last_failure: float | None = None

    def failed(self) -> None:
        now = time.monotonic()
        self.first_failure = self.first_failure or now
        self.last_failure = now

    def summary(self) -> dict[str, object]:
        return {
            "reads": sum(self.reads.values()),
            "reads_5xx": sum(n for code, n in self.reads.items() if code >= 500),
            "degraded_reads": self.degraded_reads,
            "posts": sum(self.posts.values()),
            "posts_5xx": sum(n for code, n in self.posts.items() if code >= 500),
            "posts_by_status": dict(self.posts),
            "accepted": len(self.accepted),
            "refusals": dict(self.refusals),
            "refused_without_retry_after": self.refused_without_retry_after,
            "degraded_window_s": round((self.last_failure or 0) - (self.first_failure or 0), 2),
        }


class FailoverLoad:
    """Reads and posts against ``client`` until ``stop()``; a flusher runs alongside."""

    def __init__(
        self,
        client: TestClient,
        headers: dict[str, str],
        client_ids: list[str],
        item_ids: list[str],
        flusher_store: RedisOnlineStore,
        offline: OfflineStore,
    ) -> None:
        self.client = client
        self.headers = headers
        self.client_ids = client_ids
        self.item_ids = item_ids
        self.counts = LoadCounts()
        self.offline = offline
        self.flusher = Flusher(flusher_store, offline, batch=200)
        self._stop = threading.Event()
        self._flush_held = threading.Event()
        self._flusher_idle = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, name="load-read", daemon=True),
            threading.Thread(target=self._post, name="load-post", daemon=True),
            threading.Thread(target=self._flush, name="load-flush", daemon=True),
        ]

    def start(self) -> FailoverLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> LoadCounts:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), f"{thread.name} did not stop"
        return self.counts

    def _read(self) -> None:
        for client_id in itertools.cycle(self.client_ids):
            if self._stop.is_set():
                return
            answer = self.client.get(f"/v1/clients/{client_id}/recommendations")
            self.counts.reads[answer.status_code] += 1
            if answer.status_code != 200 or answer.json()["degraded"]:
                self.counts.degraded_reads += answer.status_code == 200
                self.counts.failed()
            time.sleep(0.005)

    def _post(self) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                return
            event_id = str(uuid.uuid4())
            event = {
                "event_id": event_id,
                "client_id": self.client_ids[n % len(self.client_ids)],
                "item_ids": [self.item_ids[n % len(self.item_ids)]],
                "event_type": "purchase" if n % 5 == 0 else "click",
            }
            self.counts.posted.append(event_id)
            answer = self.client.post("/v1/events", json=event, headers=self.headers)
            self.counts.posts[answer.status_code] += 1
            self.counts.answered_at.append(time.monotonic())
            if answer.status_code == 202:
                self.counts.accepted.append(event_id)
                self.counts.accepted_at.append(time.monotonic())
            else:
                self.counts.failed()
            if answer.status_code == 503:
                self.counts.refusals[refusal_reason(answer.json().get("detail"))] += 1
                self.counts.refused_without_retry_after += "retry-after" not in answer.headers
            time.sleep(0.005)

    def _flush(self) -> None:
        held = lambda: self._stop.is_set() or self._flush_held.is_set()  # noqa: E731
        while not self._stop.is_set():
            if self._flush_held.is_set():
                self._flusher_idle.set()
                time.sleep(0.02)
                continue
            self.flusher.run_forever(block_ms=200, should_stop=held)

    def hold_flusher(self, timeout: float = 30) -> None:
        """Stop flushing (returns once the flusher is idle): new events stay only in Redis, as
        the ones that arrive between two runs of a real flusher."""
        self._flush_held.set()
        assert self._flusher_idle.wait(timeout), "the flusher did not pause"

    def release_flusher(self) -> None:
        self._flusher_idle.clear()
        self._flush_held.clear()

    def accepted_since(self, moment: float) -> int:
        return sum(1 for t in self.counts.accepted_at if t > moment)

    def answered_since(self, moment: float) -> int:
        """Posts answered (whatever the status) after ``moment``."""
        return sum(1 for t in self.counts.answered_at if t > moment)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float) -> float:
        """Seconds until ``condition()`` held; fails the test after ``timeout`` seconds."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)
        return time.monotonic() - started


def refusal_reason(detail: object) -> str:
    """A 503's reason in a word: the replica did not confirm, or the store was unreachable."""
    text = str(detail)
    if "replica" in text and "same event_id" in text:
        return "not replicated"
    if "unavailable" in text and "retry" in text:
        return "store unavailable"
    return f"unclear: {text[:80]}"


def stall_replication(master: redis.Redis, key: str, megabytes: int = 32) -> None:
    """Write ``megabytes`` under ``key`` on ``master``, whose replica is paused.

    Past what the kernel buffers on the replication link (a few MB on loopback), the master
    keeps the stream for the replica in its own memory: writes that follow are on no replica
    until it resumes, and gone if the master is killed first. 32 MB stays under the default
    replica output-buffer limits (64 MB for 60 s), so the master keeps the replica.
    """
    chunk = b"x" * (4 << 20)
    for n in range(max(1, megabytes // 4)):
        master.set(f"{key}:{n}", chunk)


def check_nothing_lost(counts: LoadCounts, offline: OfflineStore) -> dict[str, int]:
    """Every event answered 202 is in Parquet exactly once, by id and by count.

    Events refused with 503 may be there too (a refused event may have reached the master;
    the caller's retry with the same id is then dropped as a repeat), but nothing the load did
    not post, and nothing twice.
    """
    flushed = flushed_ids(offline)
    in_parquet = set(flushed)
    accepted = set(counts.accepted)
    assert len(accepted) == len(counts.accepted) == counts.posts[202], "ids must be unique"
    missing = accepted - in_parquet
    assert not missing, (
        f"{len(missing)} of {len(accepted)} events answered 202 never reached Parquet, "
        f"e.g. {sorted(missing)[:3]}"
    )
    found = len(accepted & in_parquet)
    assert found == counts.posts[202], f"{found} of {counts.posts[202]} answered 202 in Parquet"
    strangers = in_parquet - set(counts.posted)
    assert not strangers, f"{len(strangers)} events in Parquet that the load never posted"
    repeats = len(flushed) - len(in_parquet)
    assert repeats == 0, f"{repeats} events written twice"
    return {
        "accepted": len(accepted),
        "accepted_in_parquet": found,
        "flushed": len(flushed),
        "refused_but_flushed": len(in_parquet - accepted),
        "lost": len(missing),
    }
