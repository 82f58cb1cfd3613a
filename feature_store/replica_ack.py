"""An accepted event is on a replica too: after its write, ``WAIT`` until a replica has it.

Redis replicates asynchronously: a master answers a write before any replica has it, so a
master that dies right after can take the write with it when its replica takes over. ``WAIT
numreplicas timeout`` blocks until that many replicas have acknowledged every earlier write *of
the same connection* (or the timeout passed) and answers how many did. So it is sent on the
connection that wrote, in the same round trip, to the master that holds the stream's slot
(``RedisOnlineStore.transact(..., replicated=key)``).

How many replicas (``ReplicaPolicy.min_replicas``, ``RECSYS_EVENT_MIN_REPLICAS``):

- unset: 0 on a single Redis (``open_store`` decides); on a Redis Cluster or behind Sentinel,
  1 when the master that took the write has a replica online (``INFO replication``, asked at
  most once per ``CHECK_S`` per master), else 0: a master left alone (its replica was promoted,
  the old master has not rejoined yet) takes events rather than refusing every one of them;
- 0: never wait;
- N: wait for N; a master with fewer replicas online refuses every event (as Redis's
  ``min-replicas-to-write`` would).

Fewer acknowledgements within ``timeout_ms``: ``EventNotReplicatedError``. The write is on the
master and may or may not survive it, so the API answers 503 and the caller retries with the
same event ids (the flusher drops repeats by event id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from feature_store.errors import FeatureStoreError

#: How long a master's count of online replicas is trusted (auto mode).
CHECK_S = 1.0
DEFAULT_TIMEOUT_MS = 250

log = logging.getLogger("feature_store.replicas")


class EventNotReplicatedError(FeatureStoreError):
    """Fewer replicas than required acknowledged a write in time (the API answers 503)."""

    def __init__(self, required: int, acknowledged: int, timeout_ms: int) -> None:
        self.required = required
        self.acknowledged = acknowledged
        self.timeout_ms = timeout_ms
        super().__init__(
            f"the event reached the Redis master, but {acknowledged} of the {required} "
            f"replica(s) required confirmed it within {timeout_ms} ms, so a failover could "
            "lose it; retry with the same event_id (a repeat is dropped, never counted twice)"
        )


@dataclass(frozen=True)
class ReplicaPolicy:
    """How many replicas must have an event before it is accepted; None: 1 when one is online."""

    min_replicas: int | None = 0
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    @property
    def enabled(self) -> bool:
        return self.min_replicas != 0


def online_replicas(replication: Mapping[str, Any]) -> int:
    """Replicas in sync with a master, from its parsed ``INFO replication``."""
    return sum(
        1
        for name, value in replication.items()
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )


class ReplicaWaiter:
    """Decides how many acknowledgements a write needs and checks the ``WAIT`` reply."""

    def __init__(self, policy: ReplicaPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._online: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.policy.enabled

    def required(self, master: str, count_online: Callable[[], int]) -> int:
        """Acknowledgements to wait for on ``master`` (``count_online`` asks it, when needed)."""
        if self.policy.min_replicas is not None:
            return self.policy.min_replicas
        now = self._clock()
        with self._lock:
            cached = self._online.get(master)
        if cached is not None and cached[1] > now:
            return min(1, cached[0])
        online = count_online()
        with self._lock:
            self._online[master] = (online, now + CHECK_S)
        if online == 0 and (cached is None or cached[0] > 0):
            log.warning(
                "Redis master %s has no replica online: events are accepted without waiting "
                "for one until a replica is back",
                master,
            )
        return min(1, online)

    def check(self, master: str, required: int, acknowledged: int) -> None:
        """Raise ``EventNotReplicatedError`` when ``acknowledged`` falls short."""
        if acknowledged >= required:
            return
        self.forget(master)  # ask again: the replica may be gone
        raise EventNotReplicatedError(required, acknowledged, self.policy.timeout_ms)

    def forget(self, master: str | None = None) -> None:
        """Drop what is known of ``master`` (of every master when None)."""
        with self._lock:
            if master is None:
                self._online.clear()
            else:
                self._online.pop(master, None)
