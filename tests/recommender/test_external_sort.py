"""The external merge sort gives every row once, in (key desc, tie asc) order, a batch at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recommender.external_sort import MIN_BATCH_ROWS, ExternalSort


def _table(rng: np.random.Generator, ids: np.ndarray) -> pa.Table:
    # few distinct keys, so ties (broken by the id) cross run and batch boundaries
    key = rng.integers(0, 7, len(ids)).astype(np.float64) / 4
    return pa.table({"id": pa.array(ids.tolist(), pa.string()), "key": key, "row": ids.size * [1]})


@pytest.mark.parametrize(("runs", "memory_rows"), [(1, 10_000), (7, 3 * MIN_BATCH_ROWS), (12, 1)])
def test_merge_is_the_global_order(tmp_path: Path, runs: int, memory_rows: int) -> None:
    rng = np.random.default_rng(runs)
    ids = np.array([f"c{i:05d}" for i in rng.permutation(5_000)], dtype=object)
    pieces = np.array_split(ids, runs)
    sort = ExternalSort(tmp_path, "key", "id", runs=runs, memory_rows=memory_rows)
    tables = [_table(rng, piece) for piece in pieces]
    for table in tables:
        sort.add(table)
    sort.add(tables[0].slice(0, 0))  # an empty chunk is no run
    out = list(sort.merged())
    got = pa.concat_tables(out)
    whole = pa.concat_tables(tables)
    key, tie = whole.column("key").to_numpy(), np.asarray(whole.column("id").to_pylist(), object)
    order = np.lexsort((tie, -key))  # RankedBlock.by_opportunity's order
    assert got.column("id").to_pylist() == tie[order].tolist()
    assert got.column("key").to_pylist() == key[order].tolist()
    assert max(len(t) for t in out) <= max(memory_rows, runs * MIN_BATCH_ROWS) * 2


def test_later_runs_take_the_first_runs_types(tmp_path: Path) -> None:
    sort = ExternalSort(tmp_path, "key", "id", runs=2)
    sort.add(pa.table({"id": ["b", "a"], "key": [1.0, 2.0], "note": ["x", "y"]}))
    sort.add(pa.table({"id": ["c"], "key": [1.5], "note": pa.nulls(1, pa.null())}))
    got = pa.concat_tables(sort.merged())
    assert got.column("id").to_pylist() == ["a", "c", "b"]
    assert got.schema.field("note").type == pa.string()
    with pytest.raises(ValueError, match="run 3 does not match"):
        sort.add(pa.table({"id": ["d"], "key": ["not a number"], "note": ["z"]}))


def test_nothing_added_merges_to_nothing(tmp_path: Path) -> None:
    sort = ExternalSort(tmp_path, "key", "id", runs=3)
    assert sort.schema is None and list(sort.merged()) == []
