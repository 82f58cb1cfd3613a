"""API keys (header ``X-API-Key``): who is calling, and what it may see.

- admin key: everything;
- a manager's key: that manager's portfolio only (403 for another manager or its clients);
- cabinet key (optional): the client-cabinet endpoints; without one configured they are open.

Recording events (``POST /v1/events``) changes what a client owns, so it always needs a key
(``KeyRing.recorder``): admin or cabinet for any client, a manager's key for its own clients
(``require_portfolio``). A manager's key gets the same 403 for another manager's client and for
a client that does not exist, so it cannot probe which clients exist.

Keys are compared by their SHA-256 digests (one dict lookup, no early-exit string compare) and
never logged: error messages name the header, never the value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException, status

from serving.settings import ServingSettings

API_KEY_HEADER = "X-API-Key"
Role = Literal["admin", "manager", "cabinet", "anonymous"]


@dataclass(frozen=True)
class Principal:
    """The caller, as established from its key."""

    role: Role
    manager_id: str | None = None

    def may_see_manager(self, manager_id: str) -> bool:
        return self.role == "admin" or (self.role == "manager" and self.manager_id == manager_id)

    def may_see_client_of(self, manager_id: str | None) -> bool:
        """A client-level check: managers see only their own clients."""
        if self.role != "manager":
            return True
        return manager_id is not None and manager_id == self.manager_id


ANONYMOUS = Principal("anonymous")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_id(key: str) -> str:
    """A short name of a key for web sessions to refer to it: derived, never usable as the key.

    A session remembers the ``key_id`` it was opened with, so replacing or removing a key
    ends the sessions opened with it (``KeyRing.by_key_id`` no longer finds it).
    """
    return hashlib.sha256(b"recsys-session-key-id:" + key.encode()).hexdigest()[:32]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": API_KEY_HEADER}
    )


class KeyRing:
    """Maps key digests to principals; built once per app from the settings."""

    def __init__(self, settings: ServingSettings) -> None:
        self.cabinet_open = settings.cabinet_key is None
        self._by_digest: dict[bytes, Principal] = {}
        self._by_key_id: dict[str, Principal] = {}
        admin = settings.admin_key.get_secret_value()
        if admin:
            self._add(admin, Principal("admin"))
        for manager_id, key in settings.manager_keys.items():
            self._add(key.get_secret_value(), Principal("manager", manager_id))
        if settings.cabinet_key is not None:
            self._add(settings.cabinet_key.get_secret_value(), Principal("cabinet"))

    def _add(self, key: str, principal: Principal) -> None:
        self._by_digest[_digest(key)] = principal
        self._by_key_id[key_id(key)] = principal

    def knows(self, key: str) -> bool:
        """Whether ``key`` is one of the configured keys."""
        return _digest(key) in self._by_digest

    def by_key_id(self, name: str) -> Principal | None:
        """The principal of the key named ``name`` (see ``key_id``), if it is still configured."""
        return self._by_key_id.get(name)

    def identify(self, key: str | None) -> Principal:
        """The principal of ``key``; anonymous for none; 401 for a key that is not known."""
        if not key:
            return ANONYMOUS
        principal = self._by_digest.get(_digest(key))
        if principal is None:
            raise _unauthorized(f"the {API_KEY_HEADER} header does not hold a valid API key")
        return principal

    def require(self, principal: Principal, *roles: Role) -> Principal:
        """401 without a key, 403 with a key of another role."""
        if principal.role == "anonymous":
            raise _unauthorized(f"this endpoint needs an API key in the {API_KEY_HEADER} header")
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"a {principal.role} key may not use this endpoint "
                f"(allowed: {', '.join(roles)})",
            )
        return principal

    def cabinet(self, principal: Principal) -> Principal:
        """The cabinet endpoints: open unless a cabinet key is configured."""
        if self.cabinet_open:
            return principal
        return self.require(principal, "admin", "manager", "cabinet")

    def recorder(self, principal: Principal) -> Principal:
        """``POST /v1/events``: a key always, even while the cabinet is open.

        Admin, manager and cabinet keys pass here (a cabinet principal exists only when a
        cabinet key is configured); a manager's clients are checked by ``require_portfolio``.
        """
        if principal.role == "anonymous":
            raise _unauthorized(
                f"recording events needs an API key in the {API_KEY_HEADER} header "
                "(the admin key, a manager's key or the cabinet key)"
            )
        return self.require(principal, "admin", "manager", "cabinet")


def forbid_manager(manager_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"this API key may not see manager {manager_id!r}'s portfolio",
    )


def forbid_client(client_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"client {client_id!r} is not in this manager's portfolio",
    )


def _manager_of(profile: Mapping[str, Any] | None) -> str | None:
    value = profile.get("manager_id") if profile else None
    return None if value in (None, "") else str(value)


def require_portfolio(
    principal: Principal, profiles: Mapping[str, Mapping[str, Any] | None] | None
) -> None:
    """A manager's key may act only on its own clients; other keys pass unchanged.

    ``profiles`` maps each client id to its online-store profile (``None`` for a client the
    store does not hold), or is ``None`` itself when the store could not be read. For a manager's
    key: 503 without profiles, else 403 for the first client whose profile names no manager or
    another one, so an unknown client and another manager's client get the same answer.
    """
    if principal.role != "manager":
        return
    if profiles is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the online store (Redis) is unavailable, so the manager of the client "
            "cannot be checked; nothing was done, retry shortly",
            headers={"Retry-After": "1"},
        )
    for client_id, profile in profiles.items():
        if not principal.may_see_client_of(_manager_of(profile)):
            raise forbid_client(client_id)
