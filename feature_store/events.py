"""Live events: validation (``EventIn``) and the Redis Stream log (``EventLog``).

An accepted event changes the client's owned set (purchase / subscription start / enrolment add
the item, cancellation removes it), so the very next recommendation sees it, and is appended to
the stream. On a single Redis both happen in one MULTI/EXEC. On a Redis Cluster the stream and
each client live in their own slots, so the owned sets change first (one MULTI/EXEC per
client) and the stream append comes last: an event is accepted exactly when it is in the
stream, and a failure before that leaves only idempotent SADD/SREMs, which the caller's retry
repeats (an event is never in the stream without its ownership change). Where the topology has
replicas, the stream append is also waited on until a replica has it (``WAIT``, see
``feature_store.replica_ack``), so an accepted event survives its master's failover; too few
acknowledgements in time raise ``EventNotReplicatedError`` (the API answers 503: retry with the
same ids). The stream is never
trimmed by length: only the flusher trims entries it has written to Parquet and acknowledged
(see ``feature_store.flush``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feature_store.online import OwnedChange, UnknownEntityError
from feature_store.redis_store import RedisOnlineStore, as_text, xadd_command
from recommender.domain import OWNING_EVENTS, RELEASING_EVENTS, EventType

MAX_FUTURE = timedelta(days=1)
MAX_ITEMS_PER_EVENT = 100


class LiveEventType(StrEnum):
    """The event types the events API accepts (a subset of ``EventType``)."""

    IMPRESSION = EventType.IMPRESSION.value
    CLICK = EventType.CLICK.value
    PURCHASE = EventType.PURCHASE.value
    SUBSCRIPTION_START = EventType.SUBSCRIPTION_START.value
    CANCELLATION = EventType.CANCELLATION.value
    ENROLMENT = EventType.ENROLMENT.value


_Id = Field(min_length=1, max_length=128)
#: The largest ``position`` (a Parquet int64 column).
MAX_POSITION = 2**63 - 1


class EventRecord(BaseModel):
    """One event about one item: the unit stored in the stream and in Parquet.

    Its bounds are what the Parquet event log can hold (``recommender.schema``'s ``events``
    table, 64-bit integers, UTC timestamps), so a record that validates can be flushed: the
    flusher validates each stream entry with this model and dead-letters the ones that fail.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    client_id: str
    item_id: str
    event_type: LiveEventType
    timestamp: datetime
    value: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    request_id: str | None = None
    propensity: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)
    experiment: str | None = None
    variant: str | None = None

    @field_validator("event_id", "client_id", "item_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")  # Parquet's id columns read it as missing
        return value

    @field_validator("timestamp")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value.isoformat()} is out of range in UTC") from None

    def ownership(self) -> OwnedChange | None:
        """How this event changes the owned set, if at all."""
        event_type = EventType(self.event_type.value)
        if event_type in OWNING_EVENTS:
            return OwnedChange(self.client_id, self.item_id, add=True)
        if event_type in RELEASING_EVENTS:
            return OwnedChange(self.client_id, self.item_id, add=False)
        return None

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for XADD (None fields are left out)."""
        data = self.model_dump(exclude_none=True, mode="json")
        return {k: str(v) for k, v in data.items()}

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> EventRecord:
        """Inverse of ``to_fields`` (pydantic converts the strings back)."""
        decoded = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls.model_validate(decoded)


class EventIn(BaseModel):
    """What a caller posts: one event about one or more items (one record per item).

    ``event_id`` is optional: a fresh uuid4 per item is assigned when absent; when given with
    several items, item k gets ``<event_id>:<k>``, so a retried request keeps its ids and the
    flusher's dedupe drops the repeat.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str | None = Field(default=None, min_length=1, max_length=128)
    client_id: str = _Id
    item_ids: list[str] = Field(min_length=1, max_length=MAX_ITEMS_PER_EVENT)
    event_type: LiveEventType
    request_id: str | None = Field(default=None, max_length=128)
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    value: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    propensities: list[float] | None = Field(
        default=None, description="Impressions only: logging propensity per item, in (0, 1]."
    )
    positions: list[int] | None = Field(
        default=None, description="Impressions only: 0-based rank per item."
    )
    experiment: str | None = Field(default=None, max_length=128)
    variant: str | None = Field(default=None, max_length=128)

    @field_validator("item_ids")
    @classmethod
    def _clean_items(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("item ids must be non-empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("item ids must not repeat within one event")
        return cleaned

    @field_validator("timestamp")
    @classmethod
    def _utc_not_future(cls, value: datetime) -> datetime:
        stamp = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if stamp > datetime.now(UTC) + MAX_FUTURE:
            raise ValueError(f"{stamp.isoformat()} is more than 1 day in the future")
        return stamp

    @field_validator("propensities")
    @classmethod
    def _probabilities(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and any(not 0.0 < p <= 1.0 for p in values):
            raise ValueError("each propensity must be in (0, 1]")
        return values

    @field_validator("positions")
    @classmethod
    def _ranks(cls, values: list[int] | None) -> list[int] | None:
        if values is not None and any(not 0 <= p <= MAX_POSITION for p in values):
            raise ValueError(f"each position must be in [0, {MAX_POSITION}]")
        return values

    @model_validator(mode="after")
    def _aligned_with_items(self) -> Self:
        for name in ("propensities", "positions"):
            values = getattr(self, name)
            if values is None:
                continue
            if self.event_type is not LiveEventType.IMPRESSION:
                raise ValueError(f"{name} is only allowed on impression events")
            if len(values) != len(self.item_ids):
                raise ValueError(
                    f"{name} has {len(values)} values for {len(self.item_ids)} item_ids"
                )
        return self

    def records(self) -> list[EventRecord]:
        """One ``EventRecord`` per item, with event ids assigned."""
        out: list[EventRecord] = []
        for k, item_id in enumerate(self.item_ids):
            if self.event_id is None:
                event_id = str(uuid.uuid4())
            else:
                event_id = self.event_id if len(self.item_ids) == 1 else f"{self.event_id}:{k}"
            out.append(
                EventRecord(
                    event_id=event_id,
                    client_id=self.client_id,
                    item_id=item_id,
                    event_type=self.event_type,
                    timestamp=self.timestamp,
                    value=self.value,
                    request_id=self.request_id,
                    propensity=None if self.propensities is None else self.propensities[k],
                    position=None if self.positions is None else self.positions[k],
                    experiment=self.experiment,
                    variant=self.variant,
                )
            )
        return out


class EventLog:
    """Appends validated events to the Redis Stream and applies their ownership changes."""

    def __init__(self, store: RedisOnlineStore) -> None:
        self.store = store
        self.stream = store.keys.events

    def append(self, events: Sequence[EventIn]) -> list[str]:
        """Record ``events``; returns the event ids, one per item, in order.

        Raises ``UnknownEntityError`` (nothing written) when a client or item is unknown,
        ``StoreUnavailableError`` when Redis cannot be reached, and ``EventNotReplicatedError``
        when the store's replica policy asks for more acknowledgements than came in time: an
        event is never dropped silently.
        """
        self._check_known(events)
        records = [record for event in events for record in event.records()]
        changes = [change for record in records if (change := record.ownership()) is not None]
        appends = [xadd_command(self.stream, record.to_fields()) for record in records]
        with self.store.guard():
            self.store.transact(
                [*self.store.owned_commands(changes), *appends], replicated=self.stream
            )
        return [record.event_id for record in records]

    def append_entries(self, entries: Sequence[Mapping[str, str]]) -> list[str]:
        """Append ready-made stream entries (``EventRecord.to_fields`` form) in one MULTI/EXEC.

        No known-entity check and no ownership change: for events the service produces itself
        and that own nothing, i.e. serving's impressions (their offers come from the served
        model; their clients were just answered, cold-start ones included). Returns the stream
        ids. Raises ``StoreUnavailableError`` when Redis cannot be reached (nothing written).
        """
        return self.store.append_stream(self.stream, entries)

    def _check_known(self, events: Sequence[EventIn]) -> None:
        missing_clients = set(self.store.missing_clients([e.client_id for e in events]))
        missing_items = set(self.store.missing_items([i for e in events for i in e.item_ids]))
        for index, event in enumerate(events):
            where = index if len(events) > 1 else None
            if event.client_id in missing_clients:
                raise UnknownEntityError("client_id", event.client_id, where)
            for item_id in event.item_ids:
                if item_id in missing_items:
                    raise UnknownEntityError("item_ids", item_id, where)

    def length(self) -> int:
        """Entries in the stream (not yet trimmed by the flusher)."""
        with self.store.guard():
            return int(self.store.redis.xlen(self.stream))

    def last_id(self) -> str:
        """Id of the newest stream entry, ``0-0`` when empty."""
        with self.store.guard():
            newest = self.store.redis.xrevrange(self.stream, count=1)
        return as_text(newest[0][0]) if newest else "0-0"

    def read_after(self, after: str = "0-0", count: int = 10_000) -> list[tuple[str, EventRecord]]:
        """All stream entries with an id greater than ``after``, oldest first."""
        out: list[tuple[str, EventRecord]] = []
        start = f"({after}" if after != "0-0" else "-"
        while True:
            with self.store.guard():
                batch = self.store.redis.xrange(self.stream, min=start, count=count)
            out.extend((as_text(i), EventRecord.from_fields(f)) for i, f in batch)
            if len(batch) < count:
                return out
            start = f"({as_text(batch[-1][0])}"
