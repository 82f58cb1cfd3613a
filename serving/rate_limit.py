"""Failed credentials per client address: after ``limit`` in a window, 429 with Retry-After.

A wrong API key (header ``X-API-Key``) and a wrong key typed into the login form count alike.
The counters live in the online store's Redis, so every worker of ``recsys serve --workers N``
sees the same count; each is one ``SET NX EX`` + ``INCR`` transaction, so concurrent failures
cannot overshoot the limit: of 300 wrong keys sent at once, exactly ``limit`` are answered.

While an address is over the limit, valid keys from it are refused too: otherwise 429 would
only mean "wrong", and guessing would go on at full speed. Other addresses are not affected.
IPv6 addresses count per /64 (what one host usually gets). Behind a reverse proxy, run uvicorn
with ``--proxy-headers`` so the client address is the real one. While Redis is unreachable the
counts are kept in the process (per worker) instead, so the limit still holds, ``workers``
times looser.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from feature_store.online import StoreUnavailableError
from serving.security import API_KEY_HEADER, KeyRing
from serving.store_gateway import StoreGateway

_KEY_HEADER = API_KEY_HEADER.lower().encode()


def client_address(scope: Scope) -> str:
    """The address failures are counted under: the peer, an IPv6 peer by its /64."""
    client = scope.get("client")
    host = str(client[0]) if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a unix socket or a test client's name
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Limited:
    """An address over the limit, and how long until its window ends."""

    retry_after_s: int

    def message(self, what: str) -> str:
        return (
            f"too many failed {what} from this address; "
            f"retry in {self.retry_after_s} s (Retry-After)"
        )


class _LocalWindows:
    """The same fixed windows in this process, for while Redis cannot be reached."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def count(self, address: str, add: int, window_s: int) -> tuple[int, float]:
        """(failures in the window, seconds it has left) after adding ``add``."""
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 100_000:  # a flood of addresses: forget the ended windows
                self._windows = {a: w for a, w in self._windows.items() if w[1] > now}
            count, ends = self._windows.get(address, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + window_s
            count += add
            if add:
                self._windows[address] = (count, ends)
            return count, ends - now


class FailedAttempts:
    """Counts failed credentials per address in fixed windows of ``window_s`` seconds."""

    def __init__(self, gateway: Callable[[], StoreGateway], limit: int, window_s: int) -> None:
        self._gateway = gateway
        self.limit = limit
        self.window_s = window_s
        self._local = _LocalWindows()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def check(self, address: str) -> Limited | None:
        """Whether ``address`` is over the limit now (before looking at its credential)."""
        if not self.enabled:
            return None
        return self._limited(*self._count(address, add=0))

    def fail(self, address: str) -> Limited | None:
        """Count one failure; a ``Limited`` when it is beyond the limit (answer 429, not 401)."""
        if not self.enabled:
            return None
        return self._limited(*self._count(address, add=1))

    def _limited(self, count: int, left_s: float) -> Limited | None:
        if count <= self.limit:
            return None
        return Limited(max(1, math.ceil(left_s)))

    def _count(self, address: str, add: int) -> tuple[int, float]:
        gateway = self._gateway()
        store = gateway.store
        if store is None or gateway.degraded:
            return self._local.count(address, add, self.window_s)
        key = f"{store.keys.prefix}failed-keys:{address}"
        try:
            with store.guard():
                if add:
                    pipe = store.redis.pipeline(transaction=True)
                    pipe.set(key, 0, ex=self.window_s, nx=True)
                    pipe.incr(key)
                    pipe.ttl(key)
                    _, count, ttl = pipe.execute()
                else:  # the common case, a valid key: one GET; the TTL only when over
                    count = int(store.redis.get(key) or 0)
                    ttl = store.redis.ttl(key) if count > self.limit else self.window_s
        except StoreUnavailableError:
            return self._local.count(address, add, self.window_s)
        return int(count), float(ttl if ttl and ttl > 0 else self.window_s)


def too_many(limited: Limited, what: str, request_id: str = "") -> JSONResponse:
    """The 429 answer, shaped like the API's other errors."""
    body = {"detail": limited.message(what), "request_id": request_id, "model_version": "none"}
    return JSONResponse(
        body,
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(limited.retry_after_s)},
    )


class FailedKeyLimitMiddleware:
    """Counts requests whose ``X-API-Key`` is not a known key; 429 for an address over the limit.

    Only requests that carry the header are looked at (one Redis round trip each); requests
    without a key, like the open cabinet's, pass untouched.
    """

    def __init__(self, app: ASGIApp, attempts: FailedAttempts, keys: KeyRing) -> None:
        self.app = app
        self.attempts = attempts
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _api_key(scope) if scope["type"] == "http" and self.attempts.enabled else None
        if not key:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if self.keys.knows(key):
            limited = self.attempts.check(address)
        else:
            limited = self.attempts.fail(address)
        if limited is not None:
            request_id = str(scope.get("state", {}).get("request_id", ""))
            await too_many(limited, "API keys or logins", request_id)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _api_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _KEY_HEADER:
            return value.decode("latin-1")
    return None
