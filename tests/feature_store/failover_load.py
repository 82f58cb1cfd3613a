"""Load on a running API while Redis fails over: reads, events and a flusher, all counted.

``FailoverLoad`` drives an in-process API (``TestClient``) from two threads - one reads client
recommendations, one posts events with their own ids (clicks, and purchases that change owned
sets in the clients' slots) - while a flusher thread moves the stream to Parquet. Every answer
is counted by status; the ids of accepted events (202) are kept, to compare with Parquet.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

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
            answer = self.client.post("/v1/events", json=event, headers=self.headers)
            self.counts.posts[answer.status_code] += 1
            if answer.status_code == 202:
                self.counts.accepted.append(event_id)
                self.counts.accepted_at.append(time.monotonic())
            else:
                self.counts.failed()
            time.sleep(0.005)

    def _flush(self) -> None:
        self.flusher.run_forever(block_ms=200, should_stop=self._stop.is_set)

    def accepted_since(self, moment: float) -> int:
        return sum(1 for t in self.counts.accepted_at if t > moment)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float) -> float:
        """Seconds until ``condition()`` held; fails the test after ``timeout`` seconds."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)
        return time.monotonic() - started


def check_nothing_lost(counts: LoadCounts, offline: OfflineStore) -> dict[str, int]:
    """Every accepted event id is in Parquet exactly once; the figures compared."""
    flushed = flushed_ids(offline)
    repeats = len(flushed) - len(set(flushed))
    missing = set(counts.accepted) - set(flushed)
    assert not missing, f"{len(missing)} accepted events never reached Parquet"
    assert repeats == 0, f"{repeats} events written twice"
    return {"accepted": len(counts.accepted), "flushed": len(flushed), "lost": len(missing)}
