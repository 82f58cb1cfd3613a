"""Helpers of the A/B serving tests: experiment definitions and the impressions in the stream."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from feature_store.events import EventLog, EventRecord
from feature_store.redis_store import RedisOnlineStore


def experiment(name: str, *variants: tuple[str, str, float], **extra: Any) -> dict[str, Any]:
    """An experiment body that started an hour ago: variants as (name, target, weight)."""
    return {
        "name": name,
        "variants": [{"name": n, "target": t, "weight": w} for n, t, w in variants],
        "start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        **extra,
    }


def impressions(
    store: RedisOnlineStore, at_least: int, timeout_s: float = 10.0
) -> list[EventRecord]:
    """The impressions in the stream once there are ``at_least`` (or what is there at timeout)."""
    log = EventLog(store)
    deadline = time.monotonic() + timeout_s
    while True:
        found = [r for _, r in log.read_after() if r.event_type.value == "impression"]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.02)
