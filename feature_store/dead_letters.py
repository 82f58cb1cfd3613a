"""The dead-letter stream: event-stream entries the flusher could not write to Parquet.

An entry that cannot be written (a value out of range, a field that is not an event's, bytes
that are not UTF-8) would otherwise stop the flusher at the same place on every run. The
flusher moves it here instead, in the same MULTI/EXEC that acknowledges it, and goes on::

    P{events}:dead  stream   the entry's own fields, as they were, plus
                             _entry_id (its id in P{events}), _error, _field (the field named
                             by the error, when one is), _dead_lettered_at (ISO 8601, UTC)

Nothing trims it: ``recsys events dead-letters`` lists it, and the service exports its length
as ``recsys_events_dead_letters`` in /metrics, so an operator notices, fixes and re-posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feature_store.redis_store import RedisOnlineStore

_META = ("_entry_id", "_error", "_field", "_dead_lettered_at")


def dead_letter_key(store: RedisOnlineStore) -> str:
    """Name of the dead-letter stream of ``store``'s event stream."""
    return store.keys.dead_letters


@dataclass(frozen=True)
class DeadLetter:
    """One entry the flusher could not write, and why."""

    entry_id: str
    error: str
    field: str | None
    dead_lettered_at: str
    fields: dict[str, str]

    def as_row(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "field": self.field,
            "error": self.error,
            "dead_lettered_at": self.dead_lettered_at,
            "fields": self.fields,
        }


class DeadLetters:
    """Reads and appends to the dead-letter stream."""

    def __init__(self, store: RedisOnlineStore) -> None:
        self.store = store
        self.key = dead_letter_key(store)

    def add(
        self,
        pipe: Any,
        entry_id: str,
        fields: dict[bytes, bytes],
        error: str,
        field: str | None,
    ) -> None:
        """Queue the XADD of one dead letter on ``pipe`` (the caller's MULTI/EXEC)."""
        meta = {
            "_entry_id": entry_id,
            "_error": error,
            "_field": field or "",
            "_dead_lettered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        pipe.xadd(self.key, {**fields, **{k.encode(): v.encode() for k, v in meta.items()}})

    def count(self) -> int:
        """Entries in the dead-letter stream. Raises ``StoreUnavailableError``."""
        with self.store.guard():
            return int(self.store.redis.xlen(self.key))

    def list(self, limit: int = 1_000) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters. Raises ``StoreUnavailableError``."""
        with self.store.guard():
            entries = self.store.redis.xrange(self.key, count=limit)
        return [_letter(fields) for _, fields in entries]


def _letter(raw: dict[bytes, bytes]) -> DeadLetter:
    fields = {
        k.decode(errors="backslashreplace"): v.decode(errors="backslashreplace")
        for k, v in raw.items()
    }
    return DeadLetter(
        entry_id=fields.get("_entry_id", ""),
        error=fields.get("_error", ""),
        field=fields.get("_field") or None,
        dead_lettered_at=fields.get("_dead_lettered_at", ""),
        fields={k: v for k, v in fields.items() if k not in _META},
    )
