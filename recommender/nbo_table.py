"""Next-best offers as one table (a row per client, by opportunity) and its file formats.

Columns: ``position`` (1 = biggest opportunity), the client's attributes (its name, when the
clients carry one, as ``client_name``), ``spend`` (list
prices of owned offers), the loyalty tier and its progress (``recommender.loyalty``),
``expected_value`` and, for each rank ``i``: ``offer_i`` (id), ``offer_i_name``,
``offer_i_kind``, ``offer_i_probability``, ``offer_i_value`` and ``offer_i_reasons``.
CSV (Arrow's writer), XLSX (``recommender.xlsx_writer``: streamed a chunk of rows at a time,
bold frozen header, strings always text) and Parquet go to a binary stream, from one frame
(``write_table``) or a table at a time (``table_writer``, for exports streamed in chunks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol

import numpy as np
import pandas as pd

from recommender.churn.retention import block_risk_columns
from recommender.loyalty import tier_progress
from recommender.nbo import NboResult
from recommender.servable import ServableModel
from recommender.xlsx_writer import write_xlsx

if TYPE_CHECKING:
    import pyarrow as pa

ExportFormat = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "parquet")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
XLSX_SHEET = "next-best offers"
#: Clients one XLSX sheet holds (1,048,576 rows, less the header).
XLSX_MAX_ROWS = 1_048_575
#: Parquet row groups of a streamed export hold at least this many rows (the last one aside).
PARQUET_GROUP_ROWS = 16_384
CLIENT_COLUMNS = ("client_id", "name", "manager_id", "industry", "segment", "size_band", "region")
#: Export headers of client columns whose own name would be ambiguous there.
_EXPORTED_AS = {"name": "client_name"}


def client_spend(result: NboResult, model: ServableModel) -> np.ndarray:
    """Sum of the list prices of each client's owned offers."""
    data = result.block
    price = np.asarray(model.catalog.price, dtype=np.float64)
    rows = np.repeat(np.arange(len(data)), data.owned_counts)
    values = price[data.owned_indices[: data.owned_indptr[-1]]]
    return np.bincount(rows, weights=values, minlength=len(data))


def nbo_frame(
    result: NboResult, model: ServableModel, names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The export table, ordered by opportunity."""
    order = result.order()
    data = result.block
    out = pd.DataFrame({"position": np.arange(1, len(order) + 1)})
    out["client_id"] = np.asarray([c or "" for c in data.client_ids], dtype=object)[order]
    for column in CLIENT_COLUMNS[1:]:
        if column in data.attributes:
            values = np.asarray(data.column(column), dtype=object)[order]
            out[_EXPORTED_AS.get(column, column)] = np.where(pd.isna(values), "", values)
    spend = client_spend(result, model)[order]
    tiers = data.column("loyalty_tier")
    progress = [tier_progress(float(spend[n]), tiers[i]) for n, i in enumerate(order.tolist())]
    out["owned_offers"] = data.owned_counts[order]
    out["spend"] = spend.round(2)
    out["loyalty_tier"] = [p.tier for p in progress]
    out["next_tier"] = [p.next_tier or "" for p in progress]
    out["tier_progress"] = [round(p.progress, 4) for p in progress]
    out["crm_loyalty_tier"] = [p.stated or "" for p in progress]
    out["expected_value"] = result.expected_value[order].round(2)
    for column, values in block_risk_columns(data, order, client_spend(result, model)).items():
        out[column] = values  # churn risk, when the clients carry it (recommender.churn)
    ids = np.asarray([str(i) for i in model.item_ids], dtype=object)
    labels = np.asarray([(names or {}).get(i, i) for i in ids], dtype=object)
    kinds = np.asarray(model.catalog.kind_names, dtype=object)[np.asarray(model.catalog.kind)]
    for j in range(result.items.shape[1]):
        items = result.items[order, j]
        has = items >= 0
        safe = np.maximum(items, 0)
        out[f"offer_{j + 1}"] = np.where(has, ids[safe], "")
        out[f"offer_{j + 1}_name"] = np.where(has, labels[safe], "")
        out[f"offer_{j + 1}_kind"] = np.where(has, kinds[safe], "")
        out[f"offer_{j + 1}_probability"] = result.probability[order, j].round(4)
        out[f"offer_{j + 1}_value"] = result.value[order, j].round(2)
        if result.reasons is not None:
            reasons = result.reasons
            out[f"offer_{j + 1}_reasons"] = [
                "; ".join(reasons[i][j]) if j < len(reasons[i]) else "" for i in order.tolist()
            ]
    return out


def write_table(frame: pd.DataFrame, fmt: ExportFormat, stream: BinaryIO) -> None:
    """Write ``frame`` to a binary stream as CSV (UTF-8), XLSX or Parquet."""
    if fmt == "csv":
        _write_csv(frame, stream)
    elif fmt == "parquet":
        frame.to_parquet(stream, index=False)
    elif fmt == "xlsx":
        _write_xlsx(frame, stream)
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _write_csv(frame: pd.DataFrame, stream: BinaryIO) -> None:
    """RFC 4180 CSV through Arrow's writer (several times faster than ``DataFrame.to_csv``).

    Arrow quotes every text value and writes a whole float without its ``.0``; such floats get
    it back (as text), so a reader still sees a float column where ``to_csv`` gave one.
    """
    import pyarrow as pa
    from pyarrow import csv

    csv.write_csv(_csv_ready(pa.Table.from_pandas(frame, preserve_index=False)), stream)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Float columns as text, whole floats with their ``.0`` (see ``_write_csv``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for n, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            text = pc.cast(table.column(n), pa.string())
            whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
            text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
            table = table.set_column(n, field.name, text)
    return table


def _write_xlsx(frame: pd.DataFrame, stream: BinaryIO) -> None:
    """One sheet through ``recommender.xlsx_writer`` (streamed in chunks, strings as text)."""
    write_xlsx(frame, stream, sheet=XLSX_SHEET)


class TableWriter(Protocol):
    """Writes an export a table (of consecutive rows) at a time; ``close`` ends the file."""

    def write(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


def table_writer(fmt: ExportFormat, stream: BinaryIO, schema: pa.Schema) -> TableWriter:
    """A writer of tables with ``schema`` to ``stream``: the same bytes (CSV) or the same frame
    read back (Parquet, XLSX) as ``write_table`` of all the tables as one frame."""
    if fmt == "csv":
        return _CsvWriter(stream, schema)
    if fmt == "parquet":
        return _ParquetWriter(stream, schema)
    if fmt == "xlsx":
        return _XlsxWriter(stream, schema)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


class _CsvWriter:
    def __init__(self, stream: BinaryIO, schema: pa.Schema) -> None:
        from pyarrow import csv

        self._writer = csv.CSVWriter(stream, _csv_ready(schema.empty_table()).schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(_csv_ready(table))

    def close(self) -> None:
        self._writer.close()


class _ParquetWriter:
    """Row groups of at least ``PARQUET_GROUP_ROWS`` rows (small merge outputs are pooled)."""

    def __init__(self, stream: BinaryIO, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(stream, schema)
        self._pending: list[pa.Table] = []
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._rows += len(table)
        if self._rows >= PARQUET_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._pending:
            group = pa.concat_tables(self._pending)
            self._writer.write_table(group, row_group_size=len(group))
        self._pending, self._rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


class _XlsxWriter:
    """XLSX needs the row count and the first rows before the first row is written, and a
    sheet holds ``XLSX_MAX_ROWS`` rows: the tables are kept and written as one frame."""

    def __init__(self, stream: BinaryIO, schema: pa.Schema) -> None:
        self._stream, self._schema = stream, schema
        self._tables: list[pa.Table] = []
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        self._rows += len(table)
        if self._rows > XLSX_MAX_ROWS:
            raise ValueError(
                f"an XLSX sheet holds {XLSX_MAX_ROWS:,} rows; export csv or parquet instead"
            )
        self._tables.append(table)

    def close(self) -> None:
        import pyarrow as pa

        tables = self._tables or [self._schema.empty_table()]
        write_table(pa.concat_tables(tables).to_pandas(), "xlsx", self._stream)
        self._tables = []
