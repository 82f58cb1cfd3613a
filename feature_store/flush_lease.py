"""The flush lease: at most one flusher moves the event stream to Parquet at a time.

Two flushers reading the same consumer group's pending entries would write them twice, and
each dedupes only against the Parquet it saw when it started. So a flusher first takes a
lease: the Redis key ``P{events}:flush-lease`` (in the stream's cluster slot), set when free to
its token ``host:pid:random`` with a time to live. A background thread renews it every
``ttl / 4``. A holder that dies, even by SIGKILL, stops renewing; the key expires ``ttl`` later
and a waiting flusher takes over (it re-reads the dead one's unacknowledged entries and skips
those already in Parquet).

A holder that stalls longer than ``ttl`` (stopped, swapped out, Redis unreachable) loses the
lease; the flusher calls ``confirm`` before each Parquet write and each acknowledgement, so it
stops there instead of writing what its successor re-reads. What is left is a stall inside one
write itself, longer than ``ttl``: keep ``ttl`` well above a batch's write time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from feature_store.online import StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore, as_text

DEFAULT_TTL_S = 5.0
log = logging.getLogger(__name__)

# Take when free (or still ours); renew / release only while the key holds our token.
_ACQUIRE = """
local current = redis.call('get', KEYS[1])
if current == false or current == ARGV[1] then
    return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0
end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaseLostError(RuntimeError):
    """This flusher no longer holds the flush lease (it expired; another may hold it)."""


def lease_key(store: RedisOnlineStore) -> str:
    """Name of the flush lease key of ``store``'s event stream."""
    return store.keys.flush_lease


class FlushLease:
    """Take, keep (from a thread), confirm and give back the flush lease."""

    def __init__(self, store: RedisOnlineStore, ttl_s: float = DEFAULT_TTL_S) -> None:
        if ttl_s <= 0:
            raise ValueError("the lease ttl must be > 0 seconds")
        self.store = store
        self.key = lease_key(store)
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._acquire = store.redis.register_script(_ACQUIRE)
        self._renew = store.redis.register_script(_RENEW)
        self._release = store.redis.register_script(_RELEASE)
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._lost = False

    def holder(self) -> str | None:
        """Token of the current holder, None when nobody holds the lease."""
        with self.store.guard():
            raw = self.store.redis.get(self.key)
        return None if raw is None else as_text(raw)

    def acquire(self, wait_s: float = 0.0) -> bool:
        """Take the lease, polling up to ``wait_s`` seconds while another flusher holds it."""
        if self._keeper is not None:
            if not self._lost:
                return True
            self.release()
        deadline = time.monotonic() + wait_s
        while True:
            with self.store.guard():
                taken = self._acquire(keys=[self.key], args=[self.token, self.ttl_ms])
            if taken:
                self._start_keeper()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, self.ttl_ms / 10_000))

    def confirm(self) -> None:
        """Renew now; raise ``LeaseLostError`` when the lease is no longer ours."""
        if self._keeper is None:
            raise LeaseLostError("this flusher does not hold the flush lease")
        if self._lost or not self._renew_once():
            self._lost = True
            raise LeaseLostError(
                f"the flush lease {self.key} expired and passed to {self.holder() or 'nobody'}"
            )

    def release(self) -> None:
        """Stop renewing and delete the key if it is still ours (best effort: it expires)."""
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        self._stop.set()
        keeper.join()
        try:
            with self.store.guard():
                self._release(keys=[self.key], args=[self.token])
        except StoreUnavailableError:
            pass  # the key expires by itself

    def _renew_once(self) -> bool:
        with self.store.guard():
            return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    def _start_keeper(self) -> None:
        self._stop.clear()
        self._lost = False
        self._keeper = threading.Thread(target=self._keep, name="flush-lease", daemon=True)
        self._keeper.start()

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl_ms / 4_000):
            try:
                if not self._renew_once():
                    self._lost = True
                    log.warning("flush lease %s lost: it expired before renewal", self.key)
                    return
            except StoreUnavailableError:
                continue  # confirm() decides once Redis answers again
