"""Atomic, chunk-by-chunk writing of generated tables as CSV or Parquet.

Each table is written to a hidden temporary file in the target directory and moved into place
with ``os.replace`` only when every chunk has been written, so a crash never leaves a
half-written ``interactions.csv`` behind. In CSV, list columns are joined with ``;``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recommender.synthetic.catalog import catalog_frame

FileFormat = Literal["csv", "parquet"]
LIST_SEPARATOR = ";"
LIST_COLUMNS: tuple[str, ...] = ("prerequisites", "tags")


class TableWriter:
    """Append frames to ``<out_dir>/<name>.<fmt>``; the file appears atomically on exit."""

    def __init__(self, out_dir: Path, name: str, fmt: FileFormat) -> None:
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', not {fmt!r}")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / f"{name}.{fmt}"
        self.fmt = fmt
        handle, temp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(handle)
        self._temp = Path(temp)
        self._parquet: pq.ParquetWriter | None = None
        self._rows = 0

    def append(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            out = frame.copy(deep=False)
            for column in LIST_COLUMNS:
                if column in out:
                    out[column] = out[column].map(
                        lambda v: LIST_SEPARATOR.join(v) if isinstance(v, list | tuple) else v
                    )
            out.to_csv(self._temp, mode="a", header=self._rows == 0, index=False)
        else:
            table = _arrow_table(frame)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._temp, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self._rows += len(frame)

    def close(self, commit: bool) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if commit:
            umask = os.umask(0)
            os.umask(umask)
            self._temp.chmod(0o666 & ~umask)  # mkstemp makes it private; publish like open()
            os.replace(self._temp, self.path)
        else:
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(commit=exc_type is None)


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    """Column by column, so UTC timestamps stay UTC (pandas deprecates ``.values`` for them)."""
    arrays: dict[str, pa.Array] = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            naive = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            unit = np.datetime_data(naive.dtype)[0]
            arrays[str(name)] = pa.array(naive).cast(pa.timestamp(unit, tz="UTC"))
        else:
            arrays[str(name)] = pa.array(column.to_numpy(), from_pandas=True)
    return pa.table(arrays)


def write_tables(
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
    out_dir: str | Path,
    fmt: FileFormat = "csv",
    on_chunk: Callable[[int, int], None] | None = None,
    items: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Stream (clients, interactions) chunks plus the catalog to ``out_dir``; row counts back.

    ``items`` defaults to the synthetic catalog. The three files are moved into place together,
    after the last chunk; ``on_chunk`` gets the (clients, interactions) row counts of each chunk,
    e.g. to advance a progress bar.
    """
    out = Path(out_dir)
    counts = {"items": 0, "clients": 0, "interactions": 0}
    with ExitStack() as stack:
        writers = {name: TableWriter(out, name, fmt) for name in counts}
        for name in ("interactions", "clients", "items"):  # committed in reverse: items first
            stack.push(writers[name])
        items = catalog_frame() if items is None else items
        writers["items"].append(items)
        counts["items"] = len(items)
        for clients, interactions in chunks:
            writers["clients"].append(clients)
            writers["interactions"].append(interactions)
            counts["clients"] += len(clients)
            counts["interactions"] += len(interactions)
            if on_chunk is not None:
                on_chunk(len(clients), len(interactions))
    return counts
