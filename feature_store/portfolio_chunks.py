"""A portfolio read from the offline store a chunk of clients at a time, with what each owns.

What a client owns comes from replaying its events in time order
(``recommender.feedback.owned_pairs``), and a client's events are spread over the whole
snapshot and every day of the event log. So the store is first split on disk, in two passes
that hold one record batch at a time: the clients, then the ownership events (the snapshot's
interactions, then the event log), each row into the bucket of its client (a hash of the client
id; ``ceil(clients / chunk_clients)`` buckets, Arrow IPC files compressed with LZ4). A bucket
holds some clients and every ownership event of theirs, so replaying it alone gives the same
owned pairs as replaying everything at once, in the memory of one bucket.

The owned pairs equal those of ``owned_pairs(concat(interactions, read_events()))`` (what the
in-memory export read): the event log is deduplicated by ``event_id`` (first one kept) as
``read_events`` does, within a bucket; a repeated id is the flusher's retry of the same event,
so the one client it names puts every copy in the same bucket.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feature_store.offline import OfflineStore, table_frame
from recommender.domain import OWNING_EVENTS, RELEASING_EVENTS
from recommender.feedback import owned_pairs

#: Clients per chunk: what one step of the export ranks (and so holds) at a time.
CHUNK_CLIENTS = 20_000
_OWNERSHIP_TYPES = pa.array(sorted(e.value for e in OWNING_EVENTS | RELEASING_EVENTS))
_EVENTS = pa.schema(
    [
        ("client_id", pa.string()),
        ("item_id", pa.string()),
        ("event_type", pa.string()),
        ("timestamp", pa.timestamp("ns", "UTC")),
        ("event_id", pa.string()),
        ("logged", pa.bool_()),  # from the event log (deduplicated by id), not the snapshot
    ]
)
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


class NoClientsError(ValueError):
    """The manager asked for has no clients in the offline store."""


def bucket_of(ids: pa.Array | pa.ChunkedArray, n_buckets: int) -> np.ndarray:
    """The bucket (0 .. n_buckets - 1) of each client id: a stable hash of its text."""
    encoded = pc.dictionary_encode(pc.fill_null(pc.cast(ids, pa.string()), ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    buckets = pd.util.hash_array(distinct) % np.uint64(n_buckets)
    return buckets.astype(np.int64)[encoded.indices.to_numpy()]


class _BucketFiles:
    """One IPC stream file per bucket, opened when the bucket gets its first rows."""

    def __init__(self, folder: Path, name: str, n_buckets: int) -> None:
        self.folder, self.name, self.n = folder, name, n_buckets
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}

    def path(self, bucket: int) -> Path:
        return self.folder / f"{self.name}-{bucket:05d}.arrow"

    def write(self, batch: pa.RecordBatch, buckets: np.ndarray) -> None:
        order = np.argsort(buckets, kind="stable")  # rows keep their order within a bucket
        ordered = batch.take(pa.array(order))
        bounds = np.searchsorted(buckets[order], np.arange(self.n + 1))
        for b in np.flatnonzero(np.diff(bounds)).tolist():
            writer = self._writers.get(b)
            if writer is None:
                writer = pa.ipc.new_stream(self.path(b), batch.schema, options=_IPC)
                self._writers[b] = writer
            writer.write_batch(ordered.slice(bounds[b], bounds[b + 1] - bounds[b]))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def read(self, bucket: int) -> pa.Table | None:
        path = self.path(bucket)
        if not path.is_file():
            return None
        with pa.ipc.open_stream(pa.OSFile(str(path))) as reader:
            return reader.read_all()


@dataclass
class PortfolioChunks:
    """The split portfolio: iterate for (clients, owned pairs) frames, one chunk at a time.

    ``clients`` is what ``OfflineStore.read_table("clients")`` gives for the chunk's rows;
    ``owned`` has columns client_id, item_id, like ``owned_pairs``.
    """

    n_clients: int
    n_chunks: int
    clients_schema: pa.Schema
    _clients: _BucketFiles
    _events: _BucketFiles

    def __len__(self) -> int:
        return self.n_chunks

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        for bucket in range(self.n_chunks):
            clients = self._clients.read(bucket)
            if clients is None:
                if self.n_clients:
                    continue  # a bucket no client hashed to
                clients = self.clients_schema.empty_table()
            yield table_frame(clients), self._owned(bucket)

    def _owned(self, bucket: int) -> pd.DataFrame:
        events = self._events.read(bucket)
        if events is None:
            events = _EVENTS.empty_table()
        frame = events.to_pandas()
        logged = frame["logged"].to_numpy(dtype=bool)
        log = frame[logged].drop_duplicates(subset="event_id", keep="first")
        return owned_pairs(pd.concat([frame[~logged], log], ignore_index=True))


def split_portfolio(
    store: OfflineStore,
    folder: Path,
    *,
    manager: str | None = None,
    chunk_clients: int = CHUNK_CLIENTS,
) -> PortfolioChunks:
    """Split every client (or ``manager``'s) and their ownership events into ``folder``.

    Raises ``NoClientsError`` when ``manager`` has no clients (before writing anything).
    """
    if chunk_clients < 1:
        raise ValueError(f"chunk_clients must be >= 1, got {chunk_clients}")
    mine: pa.Array | None = None
    if manager is None:
        n_clients = store.table_rows("clients")
    else:
        mine = _clients_of(store, manager)
        n_clients = len(mine)
        if not n_clients:
            raise NoClientsError(f"manager {manager!r} has no clients")
    n_chunks = max(1, math.ceil(n_clients / chunk_clients))
    folder.mkdir(parents=True, exist_ok=True)
    clients = _BucketFiles(folder, "clients", n_chunks)
    schema: pa.Schema | None = None
    try:
        for batch in store.scan_table("clients"):
            schema = batch.schema
            if manager is not None:
                batch = batch.filter(_manager_is(batch, manager))
            if len(batch):
                clients.write(batch, bucket_of(batch.column("client_id"), n_chunks))
    finally:
        clients.close()
    if schema is None:  # a clients table without rows still has its columns
        schema = store.table_schema("clients")
    events = _BucketFiles(folder, "events", n_chunks)
    try:
        for batch in _ownership_events(store, mine):
            events.write(batch, bucket_of(batch.column("client_id"), n_chunks))
    finally:
        events.close()
    return PortfolioChunks(n_clients, n_chunks, schema, clients, events)


def _manager_is(batch: pa.RecordBatch, manager: str) -> pa.Array:
    """``manager_id`` equals ``manager`` as text (the in-memory filter's ``astype(str)``)."""
    if "manager_id" not in batch.schema.names:
        return pa.array(np.zeros(len(batch), dtype=bool))
    return pc.fill_null(pc.equal(pc.cast(batch.column("manager_id"), pa.string()), manager), False)


def _clients_of(store: OfflineStore, manager: str) -> pa.Array:
    """Ids of ``manager``'s clients (one manager's portfolio: small)."""
    if "manager_id" not in store.table_schema("clients").names:
        return pa.array([], pa.string())
    found = [
        pc.cast(batch.column("client_id").filter(_manager_is(batch, manager)), pa.string())
        for batch in store.scan_table("clients", ["client_id", "manager_id"])
    ]
    return pa.chunked_array(found, type=pa.string()).combine_chunks()


def _ownership_events(store: OfflineStore, clients: pa.Array | None) -> Iterator[pa.RecordBatch]:
    """Owning and releasing events (of ``clients`` only, when given) in the shared layout:
    the snapshot's interactions first, then the event log in ``read_events``' file order."""
    columns = ["client_id", "item_id", "event_type", "timestamp"]
    sources = [(store.scan_table("interactions", columns), False)]
    sources.append((store.scan_events([*columns, "event_id"]), True))
    for batches, logged in sources:
        for batch in batches:
            keep = pc.is_in(pc.cast(batch.column("event_type"), pa.string()), _OWNERSHIP_TYPES)
            if clients is not None:
                ids = pc.cast(batch.column("client_id"), pa.string())
                keep = pc.and_(keep, pc.is_in(ids, clients))
            keep = pc.and_(keep, pc.is_valid(batch.column("client_id")))
            batch = batch.filter(pc.fill_null(keep, False))
            if len(batch):
                yield _in_layout(batch, logged)


def _in_layout(batch: pa.RecordBatch, logged: bool) -> pa.RecordBatch:
    n = len(batch)
    event_id = (
        pc.cast(batch.column("event_id"), pa.string()) if logged else pa.nulls(n, pa.string())
    )
    arrays = [
        pc.cast(batch.column("client_id"), pa.string()),
        pc.cast(batch.column("item_id"), pa.string()),
        pc.cast(batch.column("event_type"), pa.string()),
        pc.cast(batch.column("timestamp"), _EVENTS.field("timestamp").type),
        event_id,
        pa.array(np.full(n, logged)),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=_EVENTS)
