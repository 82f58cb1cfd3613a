"""Table files read as the schema's tables: CSV as Russian Excel and 1C write it
(``recommender.csv_dialect``), Excel workbooks (a sheet per table), Parquet, and a client x
offer table read as long interactions (``recommender.wide``). Each is validated by
``recommender.schema``, and problems name the file's rows (CSV lines, sheet rows, the wide
table's rows).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender import csv_dialect, sheet_layout, wide
from recommender.header_aliases import SHEETS, normalise
from recommender.schema import (
    EXCEL_SUFFIXES,
    SCHEMAS,
    TEXT_SUFFIXES,
    DataValidationError,
    Source,
    schema_headers,
    validate_table,
)

_log = logging.getLogger(__name__)
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_xlsx(file: Path, table: str = "") -> tuple[pd.DataFrame, str | None]:
    """A sheet of an Excel workbook, every cell as the text a CSV export of it would hold:
    whole numbers without ``.0``, dates as ISO text; and the sheet's name when the workbook has
    several. That sheet is the one named as ``table`` (``header_aliases.SHEETS``: a workbook
    with sheets "Клиенты", "Услуги", "Продажи" is given as each table), else the first."""
    with pd.ExcelFile(file, engine="openpyxl") as workbook:
        names = [str(name) for name in workbook.sheet_names]
        sheet = sheet_for(names, table)
        if len(names) > 1:
            _log.warning("%s: read sheet %r of %s as %s", file, sheet, names, table or "the table")
        raw = pd.read_excel(workbook, sheet_name=sheet, dtype=object)
    return raw.map(_cell_text), sheet if len(names) > 1 else None


def same_table(
    a: str | os.PathLike[str], b: str | os.PathLike[str], tables: tuple[str, str]
) -> bool:
    """Whether file ``a`` read as ``tables[0]`` and file ``b`` read as ``tables[1]`` read the
    same data: one file, and in a workbook the same sheet."""
    if Path(a).resolve() != Path(b).resolve():
        return False
    if not Path(a).suffix.lower().endswith(EXCEL_SUFFIXES) or not Path(a).is_file():
        return True
    from openpyxl import load_workbook

    book = load_workbook(a, read_only=True)
    try:
        names = [str(name) for name in book.sheetnames]
    finally:
        book.close()
    return sheet_for(names, tables[0]) == sheet_for(names, tables[1])


def sheet_for(names: list[str], table: str) -> str:
    """The sheet of ``names`` named as ``table`` (``header_aliases.SHEETS``), else the first."""
    known = SHEETS.get(table, ())
    return next((name for name in names if normalise(name) in known), names[0])


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
    """Read a CSV / tab-separated text (all cells as text; UTF-8, Windows-1251 or UTF-16, decimal
    commas in ';' files: ``recommender.csv_dialect``), Excel .xlsx / .xlsm (the sheet named as
    ``table``, else the first; cells as text: ``read_xlsx``) or Parquet file; validate it as
    ``table``."""
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
        sheet = None
        if suffix in TEXT_SUFFIXES:
            dialect = csv_dialect.sniff(file)
            if dialect != csv_dialect.Dialect("utf-8-sig", ","):
                _log.warning("%s: read as %s", file, dialect.describe())
            raw = csv_dialect.read_csv(file, dialect)
        elif suffix in PARQUET_SUFFIXES:
            raw = pd.read_parquet(file)
        elif suffix in EXCEL_SUFFIXES:
            raw, sheet = read_xlsx(file, table)
        else:
            raise DataValidationError(
                [
                    f"{file}: unsupported file type {suffix!r} (CSV or tab-separated text "
                    f"{'/'.join(TEXT_SUFFIXES)}, Excel {'/'.join(EXCEL_SUFFIXES)}, Parquet; an "
                    "old Excel .xls is saved as .xlsx first)"
                ]
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
    if sheet is not None:  # errors name the sheet too
        source = replace(source, name=f"{file} (sheet {sheet!r})")
    if suffix not in PARQUET_SUFFIXES:  # typed data has no report layout
        known = sheet_layout.known_headers(table, [*(columns or {}), *offers])
        raw, source = sheet_layout.table_rows(raw, table, source, known)
    raw = schema_headers(user_headers(raw, columns or {}, source), table, source)
    if suffix in TEXT_SUFFIXES and dialect.decimal_comma:  # after the headers: 'Цена' is 'price'
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
