"""The online store interface: what serving reads per request and what materialize writes.

Reads never raise for a missing key: each id gets a ``Lookup`` whose status says PRESENT or
MISSING, so a cold-start client is a normal case, not an exception. The one exception readers
must handle is ``StoreUnavailableError`` (the backend cannot be reached): serving answers from
model data with ``degraded: true`` and refuses events with 503.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from feature_store.errors import FeatureStoreError

T = TypeVar("T")

#: Client profile fields kept online (everything of ``recommender.domain.Client`` but the id).
PROFILE_FIELDS: tuple[str, ...] = (
    "industry",
    "segment",
    "size_band",
    "region",
    "manager_id",
    "loyalty_tier",
    "signup_date",
)


class StoreUnavailableError(FeatureStoreError):
    """The online store cannot be reached (down, timed out, refused the credentials).

    The message names the store by its masked URL; the password never appears.
    """


class UnknownEntityError(FeatureStoreError, ValueError):
    """An event names a client or item that the online store does not know (maps to 422)."""

    def __init__(self, field: str, value: str, index: int | None = None) -> None:
        self.field = field
        self.value = value
        self.index = index
        where = f"event {index}: " if index is not None else ""
        what = "client" if field.startswith("client") else "item"
        super().__init__(f"{where}{field}: unknown {what} {value!r}")


class Status(StrEnum):
    """Outcome of reading one key."""

    PRESENT = "present"
    MISSING = "missing"


@dataclass(frozen=True)
class Lookup(Generic[T]):
    """The value read for one id, or ``None`` with status MISSING."""

    status: Status
    value: T | None = None

    @property
    def present(self) -> bool:
        return self.status is Status.PRESENT

    @classmethod
    def of(cls, value: T | None) -> Lookup[T]:
        """PRESENT with ``value``, or MISSING when ``value`` is None."""
        return cls(Status.MISSING) if value is None else cls(Status.PRESENT, value)


@dataclass(frozen=True)
class OwnedChange:
    """One live ownership change: ``add`` True gives the item to the client, False frees it."""

    client_id: str
    item_id: str
    add: bool


class OnlineStore(ABC):
    """Low-latency key-value view of clients, their owned offers and the catalog."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the backend answers now; never raises (for ``/readyz``)."""

    @abstractmethod
    def get_profiles(self, client_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]]:
        """Profile features (``PROFILE_FIELDS``) per client id."""

    @abstractmethod
    def get_owned(self, client_ids: Sequence[str]) -> dict[str, Lookup[frozenset[str]]]:
        """Owned item ids per client; MISSING when the client itself is unknown."""

    def get_client_state(
        self, client_id: str
    ) -> tuple[Lookup[dict[str, Any]], Lookup[frozenset[str]]]:
        """Profile and owned offers of one client (a backend may read both in one round trip)."""
        return self.get_profiles([client_id])[client_id], self.get_owned([client_id])[client_id]

    @abstractmethod
    def get_items(self, item_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]]:
        """Catalog records per item id."""

    @abstractmethod
    def catalog(self) -> dict[str, dict[str, Any]]:
        """The whole catalog snapshot: item id -> record."""

    @abstractmethod
    def clients_of_manager(self, manager_id: str) -> frozenset[str]:
        """Client ids of one account manager's portfolio (empty when unknown)."""

    @abstractmethod
    def missing_clients(self, client_ids: Sequence[str]) -> list[str]:
        """The ids among ``client_ids`` that have no profile, in input order."""

    @abstractmethod
    def missing_items(self, item_ids: Sequence[str]) -> list[str]:
        """The ids among ``item_ids`` that are not in the catalog, in input order."""

    @abstractmethod
    def put_blob(self, name: str, data: bytes) -> None:
        """Store opaque per-model data (e.g. serialized arrays) under ``name``."""

    @abstractmethod
    def get_blob(self, name: str) -> Lookup[bytes]:
        """The blob stored under ``name``."""

    @abstractmethod
    def metadata(self) -> Mapping[str, str]:
        """What the last materialize wrote (time, counts); empty before the first one."""
