"""The online store as serving sees it: reads that degrade instead of failing.

When Redis cannot be reached, reads return ``None`` (the caller answers from model data with
``degraded: true``) and the gateway stops trying for ``retry_s`` seconds, so a dead server
costs one connection timeout per interval rather than one per request. The next call after the
interval tries again: when Redis is back the service recovers without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from feature_store.events import EventIn, EventLog
from feature_store.online import Lookup, StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore

ClientState = tuple[Lookup[dict[str, Any]], Lookup[frozenset[str]]]

log = logging.getLogger("serving.store")
T = TypeVar("T")


class StoreGateway:
    """Wraps a ``RedisOnlineStore`` with a short circuit breaker."""

    def __init__(self, store: RedisOnlineStore | None, retry_s: float = 1.0) -> None:
        self.store = store
        self.retry_s = retry_s
        self.events = EventLog(store) if store is not None else None
        self._down_until = 0.0
        self._down = store is None
        self._lock = threading.Lock()
        #: Reads waiting for the next batch, per event loop (see ``client_state_soon``).
        self._waiting: dict[asyncio.AbstractEventLoop, list[tuple[str, asyncio.Future[Any]]]] = {}

    @property
    def degraded(self) -> bool:
        """True while the last attempt failed (or there is no store at all)."""
        return self._down

    def _call(self, read: Callable[[RedisOnlineStore], T]) -> T | None:
        if self.store is None:
            return None
        if self._down and time.monotonic() < self._down_until:
            return None
        try:
            value = read(self.store)
        except StoreUnavailableError as exc:
            self._mark_down(str(exc))
            return None
        self._mark_up()
        return value

    def _mark_down(self, reason: str) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_s
            if not self._down:
                log.warning("online store unavailable, serving degraded: %s", reason)
            self._down = True

    def _mark_up(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    log.warning("online store is back, leaving degraded mode")
                self._down = False

    @property
    def may_block(self) -> bool:
        """True when the next read is a probe of a store that failed (it may wait for a timeout).

        A healthy store answers a read in well under a millisecond on loopback, so async routes
        call it inline; while the breaker is open reads return at once. Only the probe after
        ``retry_s`` can hang for a socket timeout, so callers send that one to a thread.
        """
        return self._down and self.store is not None and time.monotonic() >= self._down_until

    def ping(self) -> bool:
        """Probe the store now (ignores the breaker); updates the degraded flag."""
        if self.store is None:
            return False
        if self.store.ping():
            self._mark_up()
            return True
        self._mark_down("ping failed")
        return False

    def profiles(self, client_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]] | None:
        return self._call(lambda s: s.get_profiles(client_ids))

    def owned(self, client_ids: Sequence[str]) -> dict[str, Lookup[frozenset[str]]] | None:
        return self._call(lambda s: s.get_owned(client_ids))

    def client_state(self, client_id: str) -> ClientState | None:
        """Profile and owned offers of one client in one round trip; ``None`` when degraded."""
        return self._call(lambda s: s.get_client_state(client_id))

    def client_states(self, client_ids: Sequence[str]) -> dict[str, ClientState] | None:
        """``client_state`` of many clients in one round trip; ``None`` when degraded."""
        return self._call(lambda s: s.get_client_states(client_ids))

    async def client_state_soon(self, client_id: str) -> ClientState | None:
        """``client_state`` for async routes: concurrent requests share one round trip.

        The read joins a batch that is sent once the event loop has run the callbacks that are
        ready now (requests parsed in the same loop iteration), so under load one pipelined
        round trip (and one blocking wait) serves several requests; alone, a request waits for
        nothing but one loop iteration. The batch is read inline: a healthy store answers in
        well under a millisecond. A probe of a store that has just failed may wait for a
        socket timeout, so that one goes to a thread instead of blocking the loop.
        """
        if self.store is None:
            return None
        if self.may_block:
            return await asyncio.to_thread(self.client_state, client_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ClientState | None] = loop.create_future()
        waiting = self._waiting.setdefault(loop, [])
        waiting.append((client_id, future))
        if len(waiting) == 1:
            loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.pop(loop, [])
        try:
            states = self.client_states([client_id for client_id, _ in waiting])
        except Exception as exc:  # a bug, not an outage: every waiting request sees it
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for client_id, future in waiting:
            if not future.done():  # a request cancelled while waiting
                future.set_result(None if states is None else states[client_id])

    def items(self, item_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]] | None:
        return self._call(lambda s: s.get_items(item_ids))

    def clients_of_manager(self, manager_id: str) -> frozenset[str] | None:
        return self._call(lambda s: s.clients_of_manager(manager_id))

    def append_events(self, events: Sequence[EventIn]) -> list[str]:
        """Record events; raises ``StoreUnavailableError`` (never drops them silently).

        ``EventNotReplicatedError`` (a replica did not confirm in time) passes through and
        leaves the breaker alone: the master answered, reads need not degrade.
        """
        if self.events is None:
            raise StoreUnavailableError("no online store is configured")
        try:
            ids = self.events.append(events)
        except StoreUnavailableError as exc:
            self._mark_down(str(exc))
            raise
        self._mark_up()
        return ids

    def append_entries(self, entries: Sequence[Mapping[str, str]]) -> list[str]:
        """Append stream entries the service made itself; raises when Redis is down."""
        if self.events is None:
            raise StoreUnavailableError("no online store is configured")
        try:
            ids = self.events.append_entries(entries)
        except StoreUnavailableError as exc:
            self._mark_down(str(exc))
            raise
        self._mark_up()
        return ids
