"""Web logins as server-side sessions in the online store's Redis.

The browser holds only a random session id (``SESSION_COOKIE``: ``HttpOnly``, ``SameSite=Strict``,
``Secure`` over HTTPS); the API key it logged in with never leaves the server. Redis holds, under
the SHA-256 of that id (so a copy of Redis does not hand out working cookies), the principal, the
name of its key (``serving.security.key_id``: replacing a key ends its sessions) and the
session's CSRF token. Entries expire by themselves after ``ttl_s``; logging out deletes one. Every
worker reads the same Redis, so a login on one worker is valid on the others.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from feature_store.redis_store import RedisOnlineStore
from serving.security import KeyRing, Principal

SESSION_COOKIE = "recsys_session"
#: Random bytes in a session id and in a CSRF token (256 bits).
TOKEN_BYTES = 32
#: Longest cookie value looked up (a real id is 43 characters).
_MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class Session:
    """One logged-in browser: who it is and the token its forms must carry."""

    principal: Principal
    key_id: str
    csrf: str


class SessionStore:
    """Sessions under ``<store prefix>session:<sha256 of id>``; Redis errors become
    ``StoreUnavailableError`` (the caller answers 503)."""

    def __init__(self, store: RedisOnlineStore, ttl_s: int) -> None:
        self._store = store
        self.ttl_s = ttl_s

    def _key(self, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        return f"{self._store.keys.prefix}session:{digest}"

    def create(self, principal: Principal, key_id: str) -> tuple[str, Session]:
        """A new session; returns the id for the cookie and the session."""
        session_id = secrets.token_urlsafe(TOKEN_BYTES)
        session = Session(principal, key_id, secrets.token_urlsafe(TOKEN_BYTES))
        record = {
            "role": principal.role,
            "manager_id": principal.manager_id,
            "key_id": key_id,
            "csrf": session.csrf,
        }
        with self._store.guard():
            self._store.redis.set(self._key(session_id), json.dumps(record), ex=self.ttl_s)
        return session_id, session

    def get(self, session_id: str | None, keys: KeyRing) -> Session | None:
        """The live session of ``session_id``: None when unknown, expired, malformed, or its key
        is no longer configured (or now belongs to someone else)."""
        if not session_id or len(session_id) > _MAX_ID_LENGTH:
            return None
        with self._store.guard():
            raw = self._store.redis.get(self._key(session_id))
        record = _record(raw)
        if record is None:
            return None
        principal = Principal(record["role"], record.get("manager_id"))
        if keys.by_key_id(record["key_id"]) != principal:
            return None
        return Session(principal, record["key_id"], record["csrf"])

    def delete(self, session_id: str | None) -> None:
        if not session_id or len(session_id) > _MAX_ID_LENGTH:
            return
        with self._store.guard():
            self._store.redis.delete(self._key(session_id))


def _record(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    wanted = ("role", "key_id", "csrf")
    if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in wanted):
        return None
    return record
