"""Key names of the online store, laid out so that Redis Cluster can serve them.

Redis Cluster hashes a key to one of 16,384 slots by the text between its first ``{`` and the
next ``}`` (the *hash tag*) when there is one. A transaction (MULTI/EXEC), a Lua script and a
multi-key command may only touch keys of one slot, so every group of keys written together
shares a tag. Under the versioned prefix ``P`` (e.g. ``recsys:v2:``):

    P{client:<id>}:profile   string  JSON object of PROFILE_FIELDS
    P{client:<id>}:owned     set     item ids the client owns now
    P{catalog}               hash    item id -> JSON record (built in P{catalog}:next)
    P{index}:clients         set     client ids the last materialize wrote
    P{index}:managers        set     manager ids the last materialize wrote
    P{index}:manager:<id>    set     client ids of one account manager
    P{index}:meta            hash    what the last materialize wrote (time, counts)
    P{blob:<name>}           string  opaque per-model data
    P{events}                stream  the live event log (``feature_store.events``)
    P{events}:dead           stream  entries the flusher could not write
    P{events}:flush-lease    string  the flusher's lease

So one client's keys live in one slot (its profile and owned set change together), the
indexes swap together in one MULTI, and the event stream, its dead letters and the flush lease
share one slot (the flusher acknowledges and dead-letters in one MULTI). A single Redis ignores
the tags; the same names serve every topology.

Schema version 1 used untagged names (``P profile:<id>``, ``P events``...). Version 2 is a new
prefix, so nothing is read in the old layout by mistake: ``recsys materialize`` fills the new
prefix, and first moves the old stream's events (and dead letters) into the new stream (see
``feature_store.key_migration``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Builds every key name from the versioned prefix."""

    prefix: str

    def client_tag(self, client_id: str) -> str:
        """The part of a client's key names that picks its cluster slot."""
        return f"{self.prefix}{{client:{client_id}}}"

    def profile(self, client_id: str) -> str:
        return f"{self.client_tag(client_id)}:profile"

    def owned(self, client_id: str) -> str:
        return f"{self.client_tag(client_id)}:owned"

    def manager(self, manager_id: str) -> str:
        return f"{self.prefix}{{index}}:manager:{manager_id}"

    def blob(self, name: str) -> str:
        return f"{self.prefix}{{blob:{name}}}"

    @property
    def catalog(self) -> str:
        return f"{self.prefix}{{catalog}}"

    @property
    def clients(self) -> str:
        return f"{self.prefix}{{index}}:clients"

    @property
    def managers(self) -> str:
        return f"{self.prefix}{{index}}:managers"

    @property
    def meta(self) -> str:
        return f"{self.prefix}{{index}}:meta"

    @property
    def events(self) -> str:
        return f"{self.prefix}{{events}}"

    @property
    def dead_letters(self) -> str:
        return f"{self.events}:dead"

    @property
    def flush_lease(self) -> str:
        return f"{self.events}:flush-lease"

    def staging(self, key: str) -> str:
        """Where a key's next version is built before an atomic RENAME over it (same slot)."""
        return f"{key}:next"
