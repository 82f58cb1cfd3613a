"""Connections from settings: ``REDIS_URL`` when set, else the embedded server of the data dir.

The embedded server (``feature_store.embedded_server``) persists to ``<data dir>/redis/`` and
listens on one unix socket whose path never changes, so every process of the same data dir
shares one server and a client reconnects by itself after the server was stopped and started
again. The server runs while some process uses it (see ``embedded_server``).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from feature_store import redis_topology
from feature_store.embedded_server import EmbeddedServer, ensure_running
from feature_store.online import StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore
from feature_store.redis_topology import RedisClient
from feature_store.settings import OnlineStoreSettings


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


def connect(settings: OnlineStoreSettings) -> RedisClient:
    """A client for the configured server; raises ``StoreUnavailableError`` when unreachable.

    Does not ping a remote server (a service may start before Redis), but a Redis Cluster is
    asked for its slots (see ``feature_store.redis_topology``); the embedded one is joined, or
    started when none answers, here.
    """
    options = client_options(settings)
    if settings.redis_url is not None:
        try:
            return redis_topology.connect(settings.redis_url.get_secret_value(), options)
        except ValueError as exc:  # redis-py names the bad part, never the password
            raise StoreUnavailableError(f"bad REDIS_URL {settings.display_url}: {exc}") from None
        except redis.RedisError as exc:
            raise StoreUnavailableError(
                f"online store unavailable at {settings.display_url}: {type(exc).__name__}: {exc}"
            ) from None
    return _embedded(settings, options)


def _embedded(settings: OnlineStoreSettings, options: dict[str, Any]) -> redis.Redis:
    server = EmbeddedServer(settings.redis_dir)
    client = redis.Redis(unix_socket_path=str(server.socket), **options)  # connects lazily
    ensure_running(server, client, settings.embedded_start_timeout_s)  # used while it lives
    return client


def open_store(settings: OnlineStoreSettings | None = None) -> RedisOnlineStore:
    """The online store for ``settings`` (default: from the environment)."""
    settings = settings or OnlineStoreSettings()
    return RedisOnlineStore(
        connect(settings),
        settings.redis_key_prefix,
        display_url=settings.display_url,
        write_batch=settings.write_batch,
        replicas=settings.replica_policy,
    )
