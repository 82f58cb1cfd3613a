"""Next-best offers of a portfolio of any size, ranked and written a chunk of clients at a time.

Each chunk (clients and the offers they own) is ranked by ``compute_nbo`` (the one ranking
policy) and laid out by ``nbo_frame``, as a portfolio held in memory is, so each row is the one
the in-memory export and the API give. The file still lists clients by opportunity over the
whole portfolio (expected value, high first; the client id breaks ties) with positions
1..n: each chunk's table is a sorted run on disk and ``recommender.external_sort`` merges them
into the writer (``nbo_table.table_writer``). Memory: one chunk while ranking, the merge's
buffers while writing; neither grows with the portfolio (XLSX aside: a sheet is capped at
``XLSX_MAX_ROWS`` rows and written from one frame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recommender.external_sort import MEMORY_ROWS, ExternalSort
from recommender.nbo import compute_nbo, portfolio_block
from recommender.nbo_table import ExportFormat, nbo_frame, table_writer
from recommender.phrases import Speaker
from recommender.ranking import RankingModel, RankingPolicy, RankingRules

#: The unrounded expected value: what the order follows (the file shows it rounded).
ORDER_KEY = "_order_expected_value"


@dataclass(frozen=True)
class ExportSummary:
    clients: int
    expected_value: float  # sum of the file's (rounded) expected values


def ranked_chunk(
    clients: pd.DataFrame,
    owned: pd.DataFrame,
    model: RankingModel,
    policy: RankingPolicy,
    rules: RankingRules,
    *,
    names: Mapping[str, str] | None = None,
    explain: bool = True,
    speaker: Speaker | None = None,
    progress: Callable[[int], None] | None = None,
) -> pa.Table:
    """The export table of one chunk (``nbo_frame``) with its order key as an extra column."""
    result = compute_nbo(
        model,
        portfolio_block(clients, owned, model),
        policy,
        rules,
        names=names,
        explain=explain,
        speaker=speaker,
        progress=progress,
    )
    table = pa.Table.from_pandas(nbo_frame(result, model.servable, names), preserve_index=False)
    key = np.asarray(result.expected_value, dtype=np.float64)[result.order()]
    return table.append_column(ORDER_KEY, pa.array(key))


def export_chunks(
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
    n_chunks: int,
    model: RankingModel,
    policy: RankingPolicy,
    rules: RankingRules,
    fmt: ExportFormat,
    stream: BinaryIO,
    workdir: Path,
    *,
    names: Mapping[str, str] | None = None,
    explain: bool = True,
    speaker: Speaker | None = None,
    ranked: Callable[[int], None] | None = None,
    written: Callable[[int], None] | None = None,
    memory_rows: int = MEMORY_ROWS,
) -> ExportSummary:
    """Rank every chunk (clients, owned pairs), then write all of them to ``stream`` by
    opportunity; ``workdir`` holds the sorted runs, the merge buffers ``memory_rows`` rows.
    ``ranked`` / ``written`` are told how many clients each step ranked / wrote."""
    runs = ExternalSort(workdir, ORDER_KEY, "client_id", runs=n_chunks, memory_rows=memory_rows)
    for clients, owned in chunks:
        table = ranked_chunk(
            clients,
            owned,
            model,
            policy,
            rules,
            names=names,
            explain=explain,
            speaker=speaker,
            progress=ranked,
        )
        runs.add(table)
    schema = runs.schema
    if schema is None:
        raise ValueError("no chunk to export (not even an empty one)")
    writer = table_writer(fmt, stream, schema.remove(schema.get_field_index(ORDER_KEY)))
    position, total = 0, 0.0
    for table in runs.merged():
        n = len(table)
        column = table.schema.get_field_index("position")
        numbers = pa.array(np.arange(position + 1, position + n + 1, dtype=np.int64))
        table = table.set_column(column, "position", numbers).drop_columns([ORDER_KEY])
        writer.write(table)
        total += float(pc.sum(table.column("expected_value")).as_py() or 0.0)
        position += n
        if written is not None:
            written(n)
    writer.close()
    return ExportSummary(position, total)
