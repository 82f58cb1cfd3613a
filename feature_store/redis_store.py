"""The Redis backend of the online store: bulk writes and per-key-status reads.

Key names and which keys share a Redis Cluster slot: ``feature_store.keys``. Profiles are JSON
strings rather than hashes because one MSET writes 10,000 of them in one command, which is what
makes materializing a million clients fast on a single Redis (see benchmarks/).

The same code serves a single Redis (embedded or ``redis://``), a Sentinel-managed master (a
``redis.Redis`` that asks the Sentinels where the master is) and a Redis Cluster
(``RedisCluster``, see ``feature_store.redis_topology``). Where they differ: on a cluster a
transaction may only touch one slot, so ``transact`` runs one MULTI/EXEC per slot, and the hot
reads go through redis-py's cluster pipeline (one round trip per node) instead of the
hand-encoded pipeline of a single connection. Event writes can wait for replicas
(``transact(..., replicated=key)``, see ``feature_store.replica_ack``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import redis
from redis.exceptions import (  # type: ignore[attr-defined]  # (the stubs predate it)
    AskError,
    ClusterDownError,
    CrossSlotTransactionError,
    MovedError,
    RedisClusterException,
    TryAgainError,
)

from feature_store.keys import Keys
from feature_store.online import (
    Lookup,
    OnlineStore,
    OwnedChange,
    Status,
    StoreUnavailableError,
)
from feature_store.redis_topology import RedisClient, is_cluster
from feature_store.replica_ack import ReplicaPolicy, ReplicaWaiter, online_replicas

__all__ = ["UNAVAILABLE_ERRORS", "Keys", "RedisOnlineStore", "as_text"]

#: Errors that mean "the server is not there", as opposed to a bug in a command. On a cluster
#: also: the cluster is failing over (CLUSTERDOWN, TRYAGAIN) or no node answers at all.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
    OSError,
)


def as_text(value: Any) -> str:
    """A Redis reply value as ``str`` (replies are bytes: the client does not decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _resp_commands(*commands: tuple[bytes, ...]) -> bytes:
    """Commands in the Redis protocol (RESP arrays of bulk strings), ready to send."""
    out = bytearray()
    for command in commands:
        out += b"*%d\r\n" % len(command)
        for arg in command:
            out += b"$%d\r\n%b\r\n" % (len(arg), arg)
    return bytes(out)


class RedisOnlineStore(OnlineStore):
    """Online store on a Redis client (``redis.Redis`` or ``RedisCluster``, bytes replies).

    Every Redis call goes through ``guard()``, which turns connection failures into
    ``StoreUnavailableError``; redis-py reconnects on the next call (and a cluster or Sentinel
    client finds the new master), so the same object works again once Redis is back.
    """

    def __init__(
        self,
        client: RedisClient,
        prefix: str,
        *,
        display_url: str,
        write_batch: int = 10_000,
        replicas: ReplicaPolicy | None = None,
    ) -> None:
        self.redis: Any = client  # redis.Redis or RedisCluster: the commands used exist on both
        self.cluster = is_cluster(client)
        self.keys = Keys(prefix)
        self.display_url = display_url
        self.write_batch = write_batch
        #: Replica acknowledgements of ``transact(..., replicated=)`` writes (none by default).
        self.replicas = ReplicaWaiter(replicas or ReplicaPolicy())

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.display_url!r}, prefix={self.keys.prefix!r})"

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Translate "Redis is not there" errors into ``StoreUnavailableError``."""
        try:
            yield
        except CrossSlotTransactionError:
            raise  # a bug: a transaction that spans slots (see ``transact``)
        except UNAVAILABLE_ERRORS as exc:
            raise StoreUnavailableError(
                f"online store unavailable at {self.display_url}: {type(exc).__name__}: {exc}"
            ) from exc

    # ---- reads -------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            with self.guard():
                return bool(self.redis.ping())
        except (StoreUnavailableError, redis.RedisError):
            return False

    def get_profiles(self, client_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]]:
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return {}
        keys = [self.keys.profile(c) for c in ids]
        with self.guard():
            raw = self.redis.mget_nonatomic(keys) if self.cluster else self.redis.mget(keys)
        return {
            c: Lookup.of(None if v is None else json.loads(v))
            for c, v in zip(ids, raw, strict=True)
        }

    def get_owned(self, client_ids: Sequence[str]) -> dict[str, Lookup[frozenset[str]]]:
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return {}
        with self.guard():
            pipe = self.redis.pipeline(transaction=False)  # per node on a cluster
            for c in ids:
                pipe.exists(self.keys.profile(c))
                pipe.smembers(self.keys.owned(c))
            replies = pipe.execute()
        result: dict[str, Lookup[frozenset[str]]] = {}
        for i, c in enumerate(ids):
            exists, members = replies[2 * i], replies[2 * i + 1]
            result[c] = (
                Lookup(Status.PRESENT, frozenset(as_text(m) for m in members))
                if exists
                else Lookup(Status.MISSING)
            )
        return result

    def get_client_state(
        self, client_id: str
    ) -> tuple[Lookup[dict[str, Any]], Lookup[frozenset[str]]]:
        """Profile and owned offers of one client in one round trip (see ``get_client_states``)."""
        return self.get_client_states([client_id])[client_id]

    def get_client_states(
        self, client_ids: Sequence[str]
    ) -> dict[str, tuple[Lookup[dict[str, Any]], Lookup[frozenset[str]]]]:
        """Profiles and owned offers of clients in one round trip: GET + SMEMBERS per client.

        The hot read of the client cabinet (serving batches the reads of concurrent requests).
        Pipelined without MULTI/EXEC: the commands go out back to back on one connection and
        Redis runs them in order (on a cluster: one pipeline per node). Owned offers are
        MISSING exactly when the profile is (as in ``get_owned``).
        """
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return {}
        commands: list[tuple[bytes, ...]] = []
        for client_id in ids:
            commands.append((b"GET", self.keys.profile(client_id).encode()))
            commands.append((b"SMEMBERS", self.keys.owned(client_id).encode()))
        with self.guard():
            if self.cluster:
                replies = self._cluster_pipelined(commands)
            else:
                replies = self._pipelined(_resp_commands(*commands), len(commands))
        missing = (Lookup[dict[str, Any]](Status.MISSING), Lookup[frozenset[str]](Status.MISSING))
        result: dict[str, tuple[Lookup[dict[str, Any]], Lookup[frozenset[str]]]] = {}
        for n, client_id in enumerate(ids):
            raw, members = replies[2 * n], replies[2 * n + 1]
            if raw is None:
                result[client_id] = missing
            else:
                owned = frozenset(as_text(m) for m in members)
                result[client_id] = (
                    Lookup(Status.PRESENT, json.loads(raw)),
                    Lookup(Status.PRESENT, owned),
                )
        return result

    def _pipelined(self, packed: bytes, n_replies: int, pool: Any = None) -> list[Any]:
        """Send pre-encoded commands on a pooled connection and read their replies.

        What ``pipeline(transaction=False).execute()`` does, without its per-command Python
        overhead (about 2x the CPU of the round trip itself on loopback): the same pool, health
        check and retry on a broken connection (idempotent reads only). A connection whose
        replies were not all read is dropped, never returned to the pool half-read. ``pool``:
        another pool than the client's (a cluster node's).
        """
        pool = pool if pool is not None else self.redis.connection_pool
        connection = pool.get_connection()

        def send_and_read() -> list[Any]:
            connection.send_packed_command([packed])
            return [connection.read_response() for _ in range(n_replies)]

        try:
            replies: list[Any] = connection.retry.call_with_retry(
                send_and_read, lambda _error: connection.disconnect()
            )
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return replies

    def _cluster_pipelined(self, commands: Sequence[tuple[bytes, ...]]) -> list[Any]:
        """Commands through redis-py's cluster pipeline: grouped per node, replies in order."""
        pipe = self.redis.pipeline(transaction=False)
        for name, *args in commands:  # the cluster client wants the command name as str
            pipe.execute_command(as_text(name), *args)
        return list(pipe.execute())

    def transact(
        self, commands: Sequence[Sequence[str | bytes]], *, replicated: str | None = None
    ) -> list[Any]:
        """Run ``commands`` (each names its key second) atomically per slot; replies in order.

        On a single Redis: one MULTI/EXEC. On a cluster a transaction may touch one slot only,
        so each slot's commands form one MULTI/EXEC, the slots in order of first appearance:
        callers order their commands so that a failure half way leaves a state that a retry
        repairs (``EventLog.append`` changes owned sets before it appends to the stream).

        ``replicated``: a key whose slot's MULTI/EXEC must also reach replicas before this
        returns (``feature_store.replica_ack``); ``EventNotReplicatedError`` when too few
        acknowledge it in time. Nothing is waited for when the policy asks for no replica.
        """
        if not commands:
            return []
        groups: dict[int, list[int]] = {}
        for n, command in enumerate(commands):
            slot = self.redis.keyslot(command[1]) if self.cluster else 0
            groups.setdefault(slot, []).append(n)
        waited_slot = None
        if replicated is not None and self.replicas.enabled:
            waited_slot = self.redis.keyslot(replicated) if self.cluster else 0
        replies: list[Any] = [None] * len(commands)
        for slot, positions in groups.items():
            if slot == waited_slot and replicated is not None:
                results = self._multi_replicated([commands[n] for n in positions], replicated)
            else:
                pipe = self.redis.pipeline(transaction=True)
                for n in positions:
                    pipe.execute_command(*commands[n])
                results = pipe.execute()
            for n, reply in zip(positions, results, strict=True):
                replies[n] = reply
        return replies

    def _multi_replicated(self, commands: Sequence[Sequence[str | bytes]], key: str) -> list[Any]:
        """One MULTI/EXEC on the master of ``key``, then WAIT on the same connection.

        Sent as one round trip (MULTI, the commands, EXEC, WAIT) on one pooled connection of
        that master: WAIT counts the acknowledgements of its own connection's writes. On a
        cluster, a slot that moved (MOVED/ASK at queueing: EXEC then aborts, nothing written)
        refreshes the slot map and is tried once more; a node that cannot be reached refreshes
        it too, for the next call.
        """
        for attempt in (1, 2):
            client, master = self._master_of(key)
            try:
                return self._exec_and_wait(client, master, commands)
            except (MovedError, AskError) as exc:
                self._refresh_slots()
                if attempt == 2:
                    raise TryAgainError(f"the slot of {key} keeps moving: {exc}") from exc
            except UNAVAILABLE_ERRORS:
                self.replicas.forget(master)
                self._refresh_slots()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _master_of(self, key: str) -> tuple[redis.Redis, str]:
        """The client of the master holding ``key`` and that master's name."""
        if not self.cluster:
            return self.redis, "master"
        node = self.redis.get_node_from_key(key)
        return self.redis.get_redis_connection(node), str(node.name)

    def _exec_and_wait(
        self, client: redis.Redis, master: str, commands: Sequence[Sequence[str | bytes]]
    ) -> list[Any]:
        policy = self.replicas.policy
        required = self.replicas.required(
            master, lambda: online_replicas(client.info("replication"))
        )
        wire: list[tuple[bytes, ...]] = [(b"MULTI",)]
        wire += [tuple(_as_bytes(arg) for arg in command) for command in commands]
        wire.append((b"EXEC",))
        if required:
            wire.append((b"WAIT", b"%d" % required, b"%d" % policy.timeout_ms))
        replies = self._pipelined(_resp_commands(*wire), len(wire), client.connection_pool)
        results = replies[len(commands) + 1]
        if results is None:  # pragma: no cover - only WATCH aborts an EXEC, and none is used
            raise redis.ResponseError("EXEC aborted")
        for result in results:
            if isinstance(result, Exception):
                raise result  # a bug in a command (wrong type...), not an outage
        if required:
            self.replicas.check(master, required, int(replies[-1]))
        return list(results)

    def _refresh_slots(self) -> None:
        """Ask the cluster for its slot map again (after a failover); quiet when none answers."""
        if not self.cluster:
            return
        with suppress(redis.RedisError, OSError):  # the next call tries again
            self.redis.nodes_manager.initialize()

    def get_items(self, item_ids: Sequence[str]) -> dict[str, Lookup[dict[str, Any]]]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return {}
        with self.guard():
            raw = self.redis.hmget(self.keys.catalog, ids)
        return {
            i: Lookup.of(None if v is None else json.loads(v))
            for i, v in zip(ids, raw, strict=True)
        }

    def catalog(self) -> dict[str, dict[str, Any]]:
        with self.guard():
            raw = self.redis.hgetall(self.keys.catalog)
        return {as_text(k): json.loads(v) for k, v in raw.items()}

    def clients_of_manager(self, manager_id: str) -> frozenset[str]:
        with self.guard():
            members = self.redis.smembers(self.keys.manager(manager_id))
        return frozenset(as_text(m) for m in members)

    def missing_clients(self, client_ids: Sequence[str]) -> list[str]:
        ids = list(dict.fromkeys(client_ids))
        with self.guard():
            pipe = self.redis.pipeline(transaction=False)
            for c in ids:
                pipe.exists(self.keys.profile(c))
            found = pipe.execute()
        return [c for c, hit in zip(ids, found, strict=True) if not hit]

    def missing_items(self, item_ids: Sequence[str]) -> list[str]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return []
        with self.guard():
            found = self.redis.hmget(self.keys.catalog, ids)
        return [i for i, hit in zip(ids, found, strict=True) if hit is None]

    def put_blob(self, name: str, data: bytes) -> None:
        with self.guard():
            self.redis.set(self.keys.blob(name), data)

    def get_blob(self, name: str) -> Lookup[bytes]:
        with self.guard():
            raw = self.redis.get(self.keys.blob(name))
        return Lookup.of(None if raw is None else bytes(raw))

    def metadata(self) -> Mapping[str, str]:
        with self.guard():
            raw = self.redis.hgetall(self.keys.meta)
        return {as_text(k): as_text(v) for k, v in raw.items()}

    # ---- writes ------------------------------------------------------------------------------

    def apply_owned(self, changes: Sequence[OwnedChange]) -> None:
        """Apply ownership changes in order, atomically per client (``transact``)."""
        if not changes:
            return
        with self.guard():
            self.transact(self.owned_commands(changes))

    def owned_commands(self, changes: Sequence[OwnedChange]) -> list[tuple[str, str, str]]:
        """SADD / SREM of each change, in order."""
        return [
            ("SADD" if c.add else "SREM", self.keys.owned(c.client_id), c.item_id) for c in changes
        ]

    def append_stream(self, stream: str, entries: Sequence[Mapping[str, str]]) -> list[str]:
        """XADD each entry to ``stream`` in one MULTI/EXEC; returns the new entry ids.

        Encoded by hand and sent like the hot reads (``_pipelined``): several times cheaper
        than a redis-py pipeline, which matters for serving's impressions (ten per answer). A
        connection that breaks is retried like the reads, so an entry whose reply was lost
        may be written twice: stream readers dedupe by ``event_id``.
        """
        if not entries:
            return []
        if self.cluster:  # one key, so one slot: a cluster transaction
            with self.guard():
                replies = self.transact([xadd_command(stream, entry) for entry in entries])
            return [as_text(entry_id) for entry_id in replies]
        key = stream.encode()
        commands: list[tuple[bytes, ...]] = [(b"MULTI",)]
        for entry in entries:
            args = [b"XADD", key, b"*"]
            for name, value in entry.items():
                args += (name.encode(), value.encode())
            commands.append(tuple(args))
        commands.append((b"EXEC",))
        with self.guard():
            replies = self._pipelined(_resp_commands(*commands), len(commands))
        return [as_text(entry_id) for entry_id in replies[-1]]

    def replace_catalog(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        """Swap in a new catalog snapshot atomically: build it aside, then RENAME over."""
        if not records:
            raise ValueError("refusing to replace the catalog with an empty one")
        staging = self.keys.staging(self.keys.catalog)
        fields = [x for item_id, record in records.items() for x in (item_id, json.dumps(record))]
        with self.guard():
            self.transact(
                [
                    ("DEL", staging),
                    ("HSET", staging, *fields),
                    ("RENAME", staging, self.keys.catalog),
                ]
            )


def _as_bytes(value: str | bytes | int | float) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def xadd_command(stream: str, entry: Mapping[str, str]) -> tuple[str, ...]:
    return ("XADD", stream, "*", *(x for pair in entry.items() for x in pair))
