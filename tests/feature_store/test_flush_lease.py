"""The flush lease: one holder at a time; it expires when its holder stops renewing it."""

from __future__ import annotations

import pytest

from feature_store.flush_lease import FlushLease, LeaseLostError
from feature_store.redis_store import RedisOnlineStore


def test_one_holder_at_a_time_until_it_gives_the_lease_back(store: RedisOnlineStore) -> None:
    first, second = FlushLease(store), FlushLease(store)
    assert first.acquire()
    assert not second.acquire(wait_s=0)
    assert second.holder() == first.token
    first.confirm()  # still ours
    first.release()
    assert second.acquire()
    with pytest.raises(LeaseLostError):
        first.confirm()
    second.release()
    assert second.holder() is None


def test_a_holder_that_stops_renewing_loses_the_lease_and_may_not_write(
    store: RedisOnlineStore,
) -> None:
    stalled, successor = FlushLease(store, ttl_s=0.3), FlushLease(store, ttl_s=0.3)
    assert stalled.acquire()
    stalled._stop.set()  # its keeper thread stops, as in a process that hangs or dies
    assert successor.acquire(wait_s=30)  # after the ttl
    with pytest.raises(LeaseLostError, match=successor.token):
        stalled.confirm()
    assert successor.holder() == successor.token  # the stalled one did not take it back
    stalled.release()  # leaves the successor's key alone
    assert successor.holder() == successor.token
    successor.release()
