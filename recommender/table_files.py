"""Table files read as the schema's tables: CSV as Russian Excel and 1C write it
(``recommender.csv_dialect``), Excel .xlsx workbooks, Parquet, and a client x offer table read
as long interactions (``recommender.wide``). Each is validated by ``recommender.schema``, and
problems name the file's rows (CSV lines, sheet rows, the wide table's rows).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender import csv_dialect, sheet_layout, wide
from recommender.schema import (
    SCHEMAS,
    DataValidationError,
    Source,
    schema_headers,
    validate_table,
)

_log = logging.getLogger(__name__)
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_xlsx(file: Path) -> pd.DataFrame:
    """The first sheet of an Excel workbook (the header in its first row), every cell as the
    text a CSV export of it would hold: whole numbers without ``.0``, dates as ISO text."""
    with pd.ExcelFile(file, engine="openpyxl") as workbook:
        names = workbook.sheet_names
        if len(names) > 1:
            _log.warning("%s: read sheet %r, the first of %d", file, names[0], len(names))
        raw = pd.read_excel(workbook, sheet_name=names[0], dtype=object)
    return raw.map(_cell_text)


def _cell_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return np.nan
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    text = str(value).strip()
    return text if text else np.nan


def read_table_file(path: str | os.PathLike[str], table: str) -> pd.DataFrame:
    """Read a CSV (all cells as text; UTF-8 or Windows-1251, ',' ';' or tab separated, decimal
    commas in ';' files: ``recommender.csv_dialect``), Excel .xlsx (its first sheet, cells as
    text: ``read_xlsx``) or Parquet file; validate it as ``table``."""
    return read_table_source(path, table)[0]


def user_headers(frame: pd.DataFrame, columns: Mapping[str, str], source: Source) -> pd.DataFrame:
    """``frame`` with the headers the user mapped (``{header: column}``, headers compared without
    surrounding spaces) renamed, each said; headers the file lacks are ignored (one mapping serves
    every file of an import)."""
    renamed = {c: columns[str(c).strip()] for c in frame.columns if str(c).strip() in columns}
    for header, column in renamed.items():
        _log.warning("%s: column %r read as %r (--column)", source.name, str(header), column)
    return frame.rename(columns=renamed) if renamed else frame


def read_table_source(
    path: str | os.PathLike[str],
    table: str,
    *,
    offers: Collection[str] = (),
    columns: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, Source]:
    """``read_table_file``, and the source naming the file's rows. ``columns`` renames headers
    (the user's own mapping, ``{header: schema column}``) before the schema's matching and
    aliases (``schema.schema_headers``). Interactions without an ``item_id`` column but with
    columns named as ``offers`` are a client x offer table, read as long rows
    (``recommender.wide``); a column of it that is no offer is an error here (``read_tables``
    reads it as the clients' attribute)."""
    return read_tables(path, table, offers=offers, columns=columns, attributes=False)[table]


def read_tables(
    path: str | os.PathLike[str],
    table: str,
    *,
    offers: Collection[str] = (),
    columns: Mapping[str, str] | None = None,
    attributes: bool = True,
) -> dict[str, tuple[pd.DataFrame, Source]]:
    """``read_table_source`` as ``{table: (frame, source)}``, and with ``attributes``, for a
    client x offer table with columns that are no offers, those columns as the clients
    table too (``"clients"``: ``client_id`` and the attributes, validated as clients)."""
    file = Path(path)
    if not file.is_file():
        raise DataValidationError([f"{file}: file not found"])
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            dialect = csv_dialect.sniff(file)
            if dialect != csv_dialect.Dialect("utf-8-sig", ","):
                _log.warning("%s: read as %s", file, dialect.describe())
            raw = csv_dialect.read_csv(file, dialect)
        elif suffix in PARQUET_SUFFIXES:
            raw = pd.read_parquet(file)
        elif suffix == ".xlsx":
            raw = read_xlsx(file)
        else:
            raise DataValidationError(
                [f"{file}: unsupported file type {suffix!r} (CSV, Parquet or Excel .xlsx)"]
            )
    except pd.errors.EmptyDataError:
        raise DataValidationError([f"{file}: file is empty (no header line)"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataValidationError([f"{file}: cannot be parsed: {exc}"]) from None
    except Exception as exc:  # pyarrow raises its own types for a corrupt Parquet file
        if isinstance(exc, DataValidationError):
            raise
        raise DataValidationError([f"{file}: cannot be read: {exc}"]) from None
    source = Source.of(file)
    if suffix not in PARQUET_SUFFIXES:  # typed data has no report layout
        known = sheet_layout.known_headers(table, [*(columns or {}), *offers])
        raw, source = sheet_layout.table_rows(raw, table, source, known)
    raw = schema_headers(user_headers(raw, columns or {}, source), table, source)
    if suffix == ".csv" and dialect.decimal_comma:  # after the headers: 'Цена' is 'price'
        numbers = [s.name for s in SCHEMAS.get(table, ()) if s.kind == "number"]
        raw = csv_dialect.decimal_points(raw, numbers)
    if table == "interactions" and offers and (items := wide.offer_columns(raw, offers)):
        _log.warning(
            "%s: no 'item_id' column: read as a client x offer table (%d offer columns)",
            file,
            len(items),
        )
        portfolio = wide.long_from_wide(raw, offers, source, attributes=attributes)
        read = {
            table: (
                validate_table(portfolio.interactions, table, source=portfolio.source),
                portfolio.source,
            )
        }
        if names := portfolio.attribute_names:
            _log.warning(
                "%s: column(s) %s are no offers: read as the clients' attributes (the clients "
                "table of this import, one row per client)",
                file,
                ", ".join(map(repr, names)),
            )
            at = portfolio.attribute_source
            clients = schema_headers(portfolio.attributes, "clients", at)
            read["clients"] = (validate_table(clients, "clients", source=at), at)
        return read
    try:
        return {table: (validate_table(raw, table, source=source), source)}
    except DataValidationError as exc:
        if table != "interactions" or "item_id" in raw.columns:
            raise
        raise DataValidationError(exc.problems, exc.total, hint=_wide_hint(offers)) from None


def _wide_hint(offers: Collection[str]) -> str:
    """Why interactions without ``item_id`` were not read as a client x offer table."""
    if not offers:
        return (
            "A client x offer table (one column per offer) is read against the catalogue: "
            "import the offers (--items) with it or before it."
        )
    return (
        "No column is named as an offer of the catalogue, so this is no client x offer table "
        f"either (offers such as {', '.join(map(repr, list(offers)[:3]))})."
    )
