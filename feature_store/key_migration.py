"""Moving the live events of schema version 1 (untagged key names) into version 2.

Version 2 (``feature_store.keys``) renamed every key so Redis Cluster can serve it, under a new
prefix (``recsys:v2:``). Profiles, owned sets, the catalog and the indexes come back from the
offline store with the next ``recsys materialize``. What Parquet does not hold yet is the event
stream's unflushed entries (and the dead letters): ``adopt_legacy_events``, which materialize
calls first, appends them to the new stream and then deletes the old one. The flusher dedupes
by ``event_id``, so entries already flushed but not yet trimmed, or copied twice by a run cut
short, still land in Parquet once.

Upgrade: stop the flushers, deploy, run ``recsys materialize``, start the flushers. The old
keys that are left (``recsys:v1:*``: profiles, owned sets, catalog, indexes) are not read any
more; delete them at leisure (``redis-cli --scan --pattern 'recsys:v1:*' | xargs redis-cli del``
on a single Redis).
"""

from __future__ import annotations

import re

from feature_store.redis_store import RedisOnlineStore

_VERSIONED = re.compile(r"^(?P<name>.*:v)(?P<version>\d+):$")
_PAGE = 1_000


def legacy_prefixes(prefix: str) -> list[str]:
    """Prefixes under which version-1 names may exist: ``prefix`` and the version before it."""
    match = _VERSIONED.match(prefix)
    if match is None or int(match["version"]) < 2:
        return [prefix]
    return [prefix, f"{match['name']}{int(match['version']) - 1}:"]


def adopt_legacy_events(store: RedisOnlineStore) -> int:
    """Move version-1 stream entries and dead letters into the current streams; the count.

    Raises ``StoreUnavailableError`` when Redis cannot be reached (a rerun finishes the move).
    """
    moved = 0
    for prefix in legacy_prefixes(store.keys.prefix):
        for old, new in (
            (f"{prefix}events", store.keys.events),
            (f"{prefix}events:dead", store.keys.dead_letters),
        ):
            if old != new:
                moved += _move_stream(store, old, new)
    return moved


def _move_stream(store: RedisOnlineStore, old: str, new: str) -> int:
    moved, start = 0, "-"
    with store.guard():
        if store.redis.type(old) not in (b"stream", "stream"):
            return 0
        while True:
            page = store.redis.xrange(old, min=start, count=_PAGE)
            for _, fields in page:
                if fields:
                    store.redis.xadd(new, fields)
                    moved += 1
            if len(page) < _PAGE:
                break
            last = page[-1][0]
            start = f"({last.decode() if isinstance(last, bytes) else last}"
        store.redis.delete(old)
    return moved
