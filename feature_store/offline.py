"""The Parquet offline store: snapshots of items / clients / interactions, and the event log.

Layout under ``recommender.paths.offline_dir(data_dir)``::

    CURRENT                                   name of the current snapshot (flipped atomically)
    snapshots/<name>/{items,clients,interactions}.parquet, manifest.json
    events/date=YYYY-MM-DD/part-<uuid>.parquet

An import lands whole or not at all: a snapshot is written into a hidden temporary directory,
renamed into place, and only then does ``CURRENT`` point at it (temp file + ``os.replace``).
Readers always see a complete snapshot. The last ``SNAPSHOTS_KEPT`` snapshots are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from feature_store.errors import OfflineStoreEmptyError, OfflineStoreError, OfflineTableMissingError
from recommender import paths
from recommender.atomic import atomic_write_bytes
from recommender.dataset import DEFAULT_CLIENT_FEATURES, DEFAULT_ITEM_FEATURES, Dataset
from recommender.domain import INTERACTION_COLUMNS, OWNING_EVENTS, RELEASING_EVENTS
from recommender.feedback import FeedbackConfig
from recommender.schema import validate_table

TABLES: tuple[str, ...] = ("items", "clients", "interactions")
SNAPSHOTS_KEPT = 3
#: Rows per record batch of the chunked readers (``scan_table``, ``scan_events``).
SCAN_ROWS = 65_536
_STALE_TMP_SECONDS = 3600.0
TimeBound = datetime | pd.Timestamp | str | None


def _fsync_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (``recommender.atomic``)."""
    atomic_write_bytes(path, data)


def _lists_back(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet list columns come back as numpy arrays; give callers plain lists again."""
    for column in frame.columns:
        if frame[column].dtype == object and len(frame):
            first = frame[column].dropna().head(1).tolist()
            if first and hasattr(first[0], "tolist"):
                frame[column] = [v.tolist() if hasattr(v, "tolist") else v for v in frame[column]]
    return frame


def _concat_coded(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """``first`` then ``second``; categorical columns of ``first`` stay categorical (their
    categories extended by ``second``'s values) instead of turning into Python strings."""
    second = second.copy()
    for column in first.columns:
        if isinstance(first[column].dtype, pd.CategoricalDtype) and column in second:
            values = pd.Index(pd.unique(second[column].dropna().astype(str)))
            categories = first[column].cat.categories
            dtype = pd.CategoricalDtype(categories.append(values[~values.isin(categories)]))
            first = first.assign(**{column: first[column].cat.set_categories(dtype.categories)})
            second[column] = second[column].astype(str).where(second[column].notna()).astype(dtype)
    return pd.concat([first, second], ignore_index=True)


def table_frame(table: pa.Table) -> pd.DataFrame:
    """A chunk read by ``scan_table`` as the frame ``read_table`` gives for the same rows."""
    return _lists_back(table.to_pandas())


def _utc(bound: TimeBound) -> pd.Timestamp | None:
    if bound is None:
        return None
    stamp = pd.Timestamp(bound)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class OfflineStore:
    """Parquet files under ``offline_dir(data_dir)`` (default data dir: ``$RECSYS_DATA_DIR``)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = paths.offline_dir(paths.data_dir(data_dir))
        self._snapshots = self.root / "snapshots"
        self._events = self.root / "events"

    # ---- snapshots -------------------------------------------------------------------------

    def current_snapshot(self) -> str | None:
        """Name of the current snapshot, or None when nothing was imported yet."""
        pointer = self.root / "CURRENT"
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        return name if name and (self._snapshots / name).is_dir() else None

    def tables(self) -> tuple[str, ...]:
        """Tables held by the current snapshot (empty when there is none)."""
        name = self.current_snapshot()
        if name is None:
            return ()
        return tuple(t for t in TABLES if (self._snapshots / name / f"{t}.parquet").is_file())

    def _current_dir(self) -> Path:
        name = self.current_snapshot()
        if name is None:
            raise OfflineStoreEmptyError(
                f"no data imported yet in {self.root}; run `recsys data generate` / "
                "`recsys data import`"
            )
        return self._snapshots / name

    def write_snapshot(self, tables: Mapping[str, pd.DataFrame], *, replace: bool = True) -> str:
        """Write ``tables`` as a new snapshot and make it current; returns its name.

        With ``replace=False`` tables not given are carried over from the current snapshot.
        If anything fails, the temporary files are removed and the current snapshot is unchanged.
        """
        unknown = sorted(set(tables) - set(TABLES))
        if unknown or not tables:
            raise ValueError(f"tables must be a non-empty subset of {TABLES}, got {sorted(tables)}")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self._snapshots.mkdir(parents=True, exist_ok=True)
        tmp = self._snapshots / f".tmp-{name}"
        tmp.mkdir()
        try:
            rows: dict[str, int] = {}
            if not replace and self.current_snapshot() is not None:
                for table in set(self.tables()) - set(tables):
                    shutil.copy2(self._current_dir() / f"{table}.parquet", tmp / f"{table}.parquet")
                    rows[table] = pq.ParquetFile(tmp / f"{table}.parquet").metadata.num_rows
            for table, frame in tables.items():
                frame.reset_index(drop=True).to_parquet(tmp / f"{table}.parquet", index=False)
                rows[table] = len(frame)
            manifest = {
                "name": name,
                "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "rows": rows,
            }
            _fsync_write(tmp / "manifest.json", json.dumps(manifest, indent=2).encode())
            os.rename(tmp, self._snapshots / name)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception):
                raise OfflineStoreError(
                    f"writing a snapshot to {self.root} failed, the current data is unchanged: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            raise
        _fsync_write(self.root / "CURRENT", name.encode())
        self._prune(name)
        return name

    def _prune(self, current: str) -> None:
        """Keep the last ``SNAPSHOTS_KEPT`` snapshots; drop temp folders of crashed writers."""
        entries = sorted(p for p in self._snapshots.iterdir() if p.is_dir())
        done = [p for p in entries if not p.name.startswith(".")]
        for old in done[:-SNAPSHOTS_KEPT]:
            if old.name != current:
                shutil.rmtree(old, ignore_errors=True)
        for tmp in (p for p in entries if p.name.startswith(".tmp-")):
            if time.time() - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)

    def read_table(self, name: str) -> pd.DataFrame:
        """One table of the current snapshot: 'items', 'clients' or 'interactions'."""
        return _lists_back(pd.read_parquet(self._table_path(name)))

    # ---- chunked readers: memory bounded by a batch, whatever the table's size --------------

    def _table_path(self, name: str) -> Path:
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
        path = self._current_dir() / f"{name}.parquet"
        if not path.is_file():
            raise OfflineTableMissingError(
                f"the current snapshot {path.parent} has no {name} table; import one with "
                f"`recsys data import --{name} FILE`"
            )
        return path

    def table_rows(self, name: str) -> int:
        """Rows of one table of the current snapshot (from the Parquet footer, nothing read)."""
        return int(pq.ParquetFile(self._table_path(name)).metadata.num_rows)

    def table_schema(self, name: str) -> pa.Schema:
        """The Arrow schema (with its pandas metadata) of one table of the current snapshot."""
        return pq.ParquetFile(self._table_path(name)).schema_arrow

    def scan_table(
        self, name: str, columns: Sequence[str] | None = None, batch_rows: int = SCAN_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """The rows of ``read_table(name)`` (``columns`` of them), in order, a batch at a time.

        Each batch keeps the file's schema metadata, so ``table_frame`` turns it into the frame
        ``read_table`` would give for those rows.
        """
        handle = pq.ParquetFile(self._table_path(name))
        schema = handle.schema_arrow
        wanted = None if columns is None else list(columns)
        for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
            yield batch.replace_schema_metadata(schema.metadata)

    def scan_events(
        self, columns: Sequence[str] | None = None, batch_rows: int = SCAN_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Every flushed event, a batch at a time, in the order ``read_events`` concatenates them
        (by day, then file), before its dedupe by ``event_id`` and its sort by time.

        ``columns`` a file lacks come back as nulls (string typed), so every batch has them all.
        """
        for path in self._event_files(None, None):
            handle = pq.ParquetFile(path)
            present = set(handle.schema_arrow.names)
            wanted = None if columns is None else [c for c in columns if c in present]
            for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
                if columns is not None and len(wanted or ()) < len(columns):
                    arrays = [
                        batch.column(c) if c in present else pa.nulls(len(batch), pa.string())
                        for c in columns
                    ]
                    batch = pa.RecordBatch.from_arrays(arrays, names=list(columns))
                yield batch

    # ---- events ----------------------------------------------------------------------------

    def append_events(self, frame: pd.DataFrame) -> int:
        """Append validated events, one Parquet file per date, each written atomically.

        Returns the number of rows written. Dedupe by ``event_id`` is the caller's job (see
        ``event_ids``); ``read_events`` also drops repeated ids, so a retried batch is harmless.
        """
        if frame.empty:
            return 0
        clean = validate_table(frame, "events", source="events")
        days = clean["timestamp"].dt.strftime("%Y-%m-%d")
        for day, part in clean.groupby(days, sort=True):
            folder = self._events / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"part-{uuid.uuid4().hex}.parquet"
            tmp = folder / f".{target.name}.tmp"
            try:
                part.reset_index(drop=True).to_parquet(tmp, index=False)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return len(clean)

    def _event_files(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[Path]:
        if not self._events.is_dir():
            return []
        files: list[Path] = []
        for folder in sorted(self._events.glob("date=*")):
            day = folder.name.removeprefix("date=")
            if start is not None and day < start.strftime("%Y-%m-%d"):
                continue
            if end is not None and day > end.strftime("%Y-%m-%d"):
                continue
            files.extend(sorted(folder.glob("part-*.parquet")))
        return files

    def read_events(self, start: TimeBound = None, end: TimeBound = None) -> pd.DataFrame:
        """Flushed events with ``start <= timestamp < end`` (UTC), one row per event id."""
        lo, hi = _utc(start), _utc(end)
        frames = [pd.read_parquet(f) for f in self._event_files(lo, hi)]
        if not frames:
            empty = pd.DataFrame(
                {
                    c: pd.Series(dtype="str")
                    for c in ("event_id", "client_id", "item_id", "event_type")
                }
            )
            empty["timestamp"] = pd.Series(dtype="datetime64[us, UTC]")
            empty["value"] = pd.Series(dtype="float64")
            return empty
        events = pd.concat(frames, ignore_index=True)
        keep = pd.Series(True, index=events.index)
        if lo is not None:
            keep &= events["timestamp"] >= lo
        if hi is not None:
            keep &= events["timestamp"] < hi
        events = events.loc[keep].drop_duplicates(subset="event_id", keep="first")
        return events.sort_values("timestamp", kind="stable").reset_index(drop=True)

    def event_ids(self) -> set[str]:
        """Ids of every flushed event (the flusher dedupes against these)."""
        ids: set[str] = set()
        for path in self._event_files(None, None):
            ids.update(pq.read_table(path, columns=["event_id"]).column(0).to_pylist())
        return ids

    # ---- training input --------------------------------------------------------------------

    def load_dataset(
        self,
        feedback: FeedbackConfig | None = None,
        include_events: bool = True,
        *,
        client_feature_columns: Sequence[str] = DEFAULT_CLIENT_FEATURES,
        item_feature_columns: Sequence[str] = DEFAULT_ITEM_FEATURES,
    ) -> Dataset:
        """A ``Dataset`` of the current snapshot plus flushed events that carry feedback.

        Events count when they own / release an offer or have a positive weight in
        ``feedback``; events whose id already is in the snapshot's interactions are skipped.
        """
        feedback = feedback or FeedbackConfig()
        events = self.read_events() if include_events else None
        if events is not None:
            useful = {e.value for e in OWNING_EVENTS | RELEASING_EVENTS}
            useful |= {str(t) for t, w in feedback.weights.items() if w > 0}
            events = events[events["event_type"].astype(str).isin(useful)]
        interactions = self._read_interactions(
            with_event_ids=bool(events is not None and len(events))
        )
        present = self.tables()
        clients = self.read_table("clients") if "clients" in present else None
        items = self.read_table("items") if "items" in present else None
        if events is not None:
            if len(events) and "event_id" in interactions:  # a hash join, not a Python set
                events = events[~events["event_id"].isin(interactions["event_id"].dropna())]
            if len(events):
                columns = [*INTERACTION_COLUMNS, "event_id"]
                interactions = _concat_coded(
                    interactions, events[[c for c in columns if c in events]]
                )
        return Dataset.from_frames(
            interactions,
            clients,
            items,
            feedback=feedback,
            client_feature_columns=client_feature_columns,
            item_feature_columns=item_feature_columns,
        )

    def _read_interactions(self, with_event_ids: bool) -> pd.DataFrame:
        """The interactions table as ``load_dataset`` needs it: ids and event types read as
        dictionaries (categoricals: a few bytes a row, not a string), ``event_id`` only when
        flushed events are to be told apart from the snapshot's."""
        path = self._table_path("interactions")
        names = pq.ParquetFile(path).schema_arrow.names
        columns = [c for c in names if with_event_ids or c != "event_id"]
        coded = [c for c in ("client_id", "item_id", "event_type") if c in columns]
        return pd.read_parquet(path, columns=columns, read_dictionary=coded)

    def fingerprint(self) -> dict[str, Any]:
        """What the training data was, for MLflow: snapshot name, SHA-256, rows, time span."""
        folder = self._current_dir()
        digest = hashlib.sha256()
        info: dict[str, Any] = {"offline_snapshot": folder.name}
        for table in TABLES:
            path = folder / f"{table}.parquet"
            if not path.is_file():
                continue
            digest.update(table.encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            info[f"rows_{table}"] = pq.ParquetFile(path).metadata.num_rows
        info["offline_sha256"] = digest.hexdigest()
        if (folder / "interactions.parquet").is_file():
            stamps = pd.read_parquet(folder / "interactions.parquet", columns=["timestamp"])
            info["interactions_min_ts"] = stamps["timestamp"].min().isoformat()
            info["interactions_max_ts"] = stamps["timestamp"].max().isoformat()
        files = self._event_files(None, None)
        info["events_files"] = len(files)
        info["events_rows"] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        return info
