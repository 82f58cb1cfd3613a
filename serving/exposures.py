"""Exposure logging: one ``impression`` event per offer shown, written off the request path.

A request only appends its answer (client, request id, experiment, variant, offers and their
propensities) to an in-memory queue and, at most once per batch, wakes the writer task; the
writer lets answers gather for ``LINGER_S``, turns them into stream entries (event ids
``<uuid>:<position>``, fixed before the first attempt, so a retried write cannot duplicate an
event downstream) and writes them with ``EventLog.append_entries``, one MULTI/EXEC per batch,
in a worker thread.

Nothing is dropped silently: when Redis fails the batch goes back to the head of the queue, the
writer retries with a backoff (``recsys_exposure_write_failures_total``) and logs an error at
most every 10 s. The queue is bounded (``RECSYS_EXPOSURE_BUFFER`` impressions); answers that do
not fit, and whatever is still queued when the app stops and Redis will not take it, are
counted in ``recsys_exposures_not_logged_total`` and logged as errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feature_store.events import LiveEventType
from feature_store.online import StoreUnavailableError
from serving.observability import Metrics
from serving.store_gateway import StoreGateway

log = logging.getLogger("serving.exposures")

BATCH = 2000  # impressions per write
LINGER_S = 0.02  # after a wake-up, let more answers join the batch
_IMPRESSION = LiveEventType.IMPRESSION.value
_ERROR_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class Exposure:
    """One answer as shown to a client."""

    client_id: str
    request_id: str
    timestamp: datetime
    experiment: str | None
    variant: str | None
    item_ids: tuple[str, ...]
    propensities: tuple[float, ...]

    def entries(self) -> list[dict[str, str]]:
        """Stream entries in ``EventRecord.to_fields`` form, built without validation (the
        values are the service's own; ``EventRecord.from_fields`` reads them back)."""
        base = uuid.uuid4().hex
        head = {"client_id": self.client_id}
        tail = {
            "event_type": _IMPRESSION,
            "timestamp": self.timestamp.isoformat(),
            "value": "1.0",
            "request_id": self.request_id,
        }
        labels = {}
        if self.experiment is not None:
            labels["experiment"] = self.experiment
        if self.variant is not None:
            labels["variant"] = self.variant
        return [
            {
                "event_id": f"{base}:{position}",
                **head,
                "item_id": item_id,
                **tail,
                "propensity": repr(propensity),
                "position": str(position),
                **labels,
            }
            for position, (item_id, propensity) in enumerate(
                zip(self.item_ids, self.propensities, strict=True)
            )
        ]


class ExposureLogger:
    """A bounded queue of answers and the task that writes them to the event stream."""

    def __init__(
        self, store: Callable[[], StoreGateway], metrics: Metrics, capacity: int = 100_000
    ) -> None:
        self._store = store
        self._metrics = metrics
        self.capacity = capacity
        self._queue: deque[Exposure] = deque()
        self._retry: list[dict[str, str]] = []
        self._pending = 0  # impressions queued or waiting for a retry
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._signalled = False
        self._last_error = -_ERROR_EVERY_S
        metrics.exposures_pending.set_function(lambda: float(self._pending))

    def record(
        self,
        client_id: str,
        request_id: str,
        experiment: str | None,
        variant: str | None,
        item_ids: Sequence[str],
        propensities: Sequence[float],
    ) -> None:
        """Queue one answer's impressions (cheap; never blocks on Redis)."""
        n = len(item_ids)
        if not n:
            return
        exposure = Exposure(
            client_id,
            request_id,
            datetime.now(UTC),
            experiment,
            variant,
            tuple(item_ids),
            tuple(propensities),
        )
        with self._lock:
            if self._pending + n > self.capacity:
                full = True
            else:
                full = False
                self._queue.append(exposure)
                self._pending += n
        if full:
            self._lost(n, f"the buffer of {self.capacity} impressions is full")
            return
        loop = self._loop
        if loop is not None and not self._signalled:
            self._signalled = True
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _lost(self, n: int, why: str) -> None:
        self._metrics.exposures_not_logged.inc(n)
        log.error("%d impressions not logged: %s", n, why)

    async def run(self) -> None:
        """Write queued impressions as they come (the app's lifespan runs this task)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        failures = 0
        while True:
            if not self._pending:
                await self._wake.wait()
            await asyncio.sleep(LINGER_S)
            self._wake.clear()
            self._signalled = False
            while self._pending:
                if await asyncio.to_thread(self.write_batch):
                    failures = 0
                    continue
                failures += 1
                await asyncio.sleep(min(5.0, 0.05 * 2**failures))

    def write_batch(self) -> bool:
        """Write up to ``BATCH`` queued impressions; False when Redis refused them (kept)."""
        with self._writing:
            with self._lock:
                records, self._retry = self._retry, []
                taken: list[Exposure] = []
                size = len(records)
                while self._queue and size < BATCH:
                    exposure = self._queue.popleft()
                    taken.append(exposure)
                    size += len(exposure.item_ids)
            try:
                for exposure in taken:
                    records.extend(exposure.entries())
                if records:
                    self._store().append_entries(records)
            except StoreUnavailableError as exc:
                with self._lock:
                    self._retry = records + self._retry
                self._metrics.exposure_write_failures.inc()
                now = time.monotonic()
                if now - self._last_error >= _ERROR_EVERY_S:
                    self._last_error = now
                    log.error(
                        "cannot log impressions (%d pending), retrying: %s", self._pending, exc
                    )
                return False
            except Exception:  # a bug: retrying would fail forever, so count and report
                with self._lock:
                    self._pending -= len(records)
                log.exception("impressions could not be converted or written")
                self._metrics.exposures_not_logged.inc(len(records))
                return True
            with self._lock:
                self._pending -= len(records)
            self._metrics.exposures_logged.inc(len(records))
            return True

    def drain(self, timeout_s: float = 2.0) -> int:
        """Write everything queued (at shutdown); returns and reports what could not be."""
        deadline = time.monotonic() + timeout_s
        while self._pending and time.monotonic() < deadline:
            if not self.write_batch():
                time.sleep(0.05)
        left = self._pending
        if left:
            with self._lock:
                self._queue.clear()
                self._retry = []
                self._pending = 0
            self._lost(left, "still pending at shutdown and the event stream is unavailable")
        return left


def log_answer(
    logger: ExposureLogger | None,
    every_answer: bool,
    client_id: str | None,
    request_id: str,
    experiment: str | None,
    variant: str | None,
    item_ids: Sequence[str],
    propensities: Sequence[float],
) -> None:
    """Queue the impressions of an answer in an experiment (or of every answer, if set)."""
    if logger is None or client_id is None or (experiment is None and not every_answer):
        return
    logger.record(client_id, request_id, experiment, variant, item_ids, propensities)
