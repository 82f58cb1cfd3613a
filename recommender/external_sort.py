"""Sorting more rows than memory holds: sorted runs on disk, then one k-way merge.

``recsys nbo export`` ranks a portfolio a chunk at a time but lists its clients by opportunity
across the whole portfolio. Each chunk's table becomes a sorted run (an Arrow IPC file, LZ4),
written in record batches of ``memory_rows // runs`` rows; ``merged`` keeps one batch of each
run in memory and repeatedly emits every buffered row that no unread row can precede (those up
to the smallest "last buffered key" among runs with more on disk), sorted. Memory: about
``memory_rows`` buffered rows plus the emitted table, whatever the total number of rows, as
long as ``runs * MIN_BATCH_ROWS <= memory_rows`` (beyond, each run still buffers
``MIN_BATCH_ROWS``: a second merge pass would be the next step).

Order: ``key`` descending, then ``tie`` ascending (Arrow compares text by UTF-8 bytes, which is
Python's ``str`` order), as ``RankedBlock.by_opportunity`` orders one block.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Rows buffered by the merge across all runs (a row of an export is a few KiB at most).
MEMORY_ROWS = 32_768
#: The smallest batch a run is written in (and so read back in).
MIN_BATCH_ROWS = 256
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


class ExternalSort:
    """Add tables (any order, each sorted here), then read all their rows back in order."""

    def __init__(
        self, folder: Path, key: str, tie: str, runs: int, memory_rows: int = MEMORY_ROWS
    ) -> None:
        self.folder, self.key, self.tie = folder, key, tie
        self.batch_rows = max(MIN_BATCH_ROWS, memory_rows // max(runs, 1))
        self._paths: list[Path] = []
        self._schema: pa.Schema | None = None
        self._empty: pa.Schema | None = None
        self.rows = 0
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def schema(self) -> pa.Schema | None:
        """The runs' schema (that of the first non-empty table; None before any table)."""
        return self._schema or self._empty

    def _sort_keys(self) -> list[tuple[str, str]]:
        return [(self.key, "descending"), (self.tie, "ascending")]

    def add(self, table: pa.Table) -> None:
        """Sort ``table`` and write it as a run; later tables are cast to the first's schema."""
        if not len(table):
            self._empty = self._empty or table.schema
            return
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            try:
                table = table.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
                raise ValueError(
                    f"run {len(self._paths) + 1} does not match the first run's columns: {error}"
                ) from error
        table = table.take(pc.sort_indices(table, sort_keys=self._sort_keys()))
        path = self.folder / f"run-{len(self._paths):05d}.arrow"
        with pa.ipc.new_file(path, table.schema, options=_IPC) as writer:
            writer.write_table(table, max_chunksize=self.batch_rows)
        self._paths.append(path)
        self.rows += len(table)

    def merged(self) -> Iterator[pa.Table]:
        """Every added row, in order, as consecutive tables of bounded size."""
        runs = [_Run(path, self.key, self.tie) for path in self._paths]
        try:
            while True:
                live = [run for run in runs if run.rows]
                if not live:
                    return
                bounds = [run.last() for run in live if run.more]
                limit = min(bounds) if bounds else None
                parts = [run.take_upto(limit) for run in live]
                table = pa.concat_tables([p for p in parts if len(p)])
                yield table.take(pc.sort_indices(table, sort_keys=self._sort_keys()))
        finally:
            for run in runs:
                run.close()


class _Run:
    """One sorted run: its current batch, with the sort key as numpy (negated key, tie)."""

    def __init__(self, path: Path, key: str, tie: str) -> None:
        self.key, self.tie = key, tie
        self._file = pa.OSFile(str(path))
        self._reader = pa.ipc.open_file(self._file)
        self._next = 0
        self._load()

    @property
    def more(self) -> bool:
        """Batches left on disk."""
        return self._next < self._reader.num_record_batches

    @property
    def rows(self) -> int:
        return len(self._table)

    def _load(self) -> None:
        if self.more:
            self._table = pa.Table.from_batches([self._reader.get_batch(self._next)])
            self._next += 1
        else:
            self._table = self._reader.schema.empty_table()
        self._neg = -self._table.column(self.key).to_numpy()
        self._ids = self._table.column(self.tie).to_numpy(zero_copy_only=False).astype(object)

    def last(self) -> tuple[float, str]:
        """The key of the last buffered row (as (-key, tie): ascending tuples)."""
        return float(self._neg[-1]), str(self._ids[-1])

    def take_upto(self, limit: tuple[float, str] | None) -> pa.Table:
        """Remove and return the buffered rows ordered at or before ``limit`` (all: None)."""
        if limit is None:
            n = self.rows
        else:
            neg, tie = limit
            lo = int(np.searchsorted(self._neg, neg, "left"))
            hi = int(np.searchsorted(self._neg, neg, "right"))
            n = lo + int(np.searchsorted(self._ids[lo:hi], tie, "right"))
        taken = self._table.slice(0, n)
        if n == self.rows:
            self._load()
        else:
            self._table = self._table.slice(n)
            self._neg, self._ids = self._neg[n:], self._ids[n:]
        return taken

    def close(self) -> None:
        self._file.close()
