"""Table schemas of imported data and their vectorized validation.

``validate_table`` turns a raw frame (a file read by ``recommender.table_files``: CSV and Excel
cells as strings, Parquet typed) into a clean typed frame, or raises ``DataValidationError``
listing every problem with its file, 1-based data row (and CSV line), column and reason.
Headers match the schema's names without surrounding spaces or case, and header aliases
(``Отрасль``, ``Код клиента``) the columns a file does not name itself (``schema_headers``).
Columns the schema does not know are passed through, so a data set can carry extra features; an
extra client column that is entirely dates in one local format (``31.12.2024``, ``12/31/2024``:
``recommender.dates``) is rewritten as ISO text, the form the ranker reads as days (tenure,
contract dates). Interactions without a ``timestamp`` column are a portfolio snapshot, every row
dated at the import (``dated_at_import``). Cross-table checks (unknown ids, duplicates, clients
without an industry) live in ``recommender.integrity``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from recommender import dates
from recommender.bounds import EARLIEST_TIMESTAMP, MAX_EVENT_VALUE, latest_timestamp
from recommender.domain import Eligibility, EventType, ItemKind, Segment
from recommender.header_aliases import EVENTS, KINDS, header_aliases, normalise_all

MAX_LISTED = 20
_log = logging.getLogger(__name__)
ColumnKind = Literal["id", "text", "enum", "number", "timestamp", "list"]


class DataValidationError(ValueError):
    """Bad input data; the message lists up to ``MAX_LISTED`` problems and the total count."""

    def __init__(
        self, problems: list[str], total: int | None = None, *, hint: str | None = None
    ) -> None:
        self.problems = problems
        self.total = max(total or len(problems), len(problems))
        shown = problems[:MAX_LISTED]
        lines = [f"{self.total} problem(s) in the input data:", *(f"  - {p}" for p in shown)]
        if self.total > len(shown):
            lines.append(f"  ... and {self.total - len(shown)} more")
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


#: Table files read as delimited text (``recommender.csv_dialect``): Excel saves "Unicode
#: text" as .txt, tab separated.
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
#: Excel workbooks (openpyxl): plain and macro-enabled.
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Source:
    """Where a table came from; ``header_lines`` is set for CSV and Excel so lines (sheet rows)
    can be named."""

    name: str
    header_lines: int | None = None
    line_word: str = "line"
    #: The file's row of each table row, when they differ (a wide file read as long rows).
    rows: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, source: str | os.PathLike[str] | Source) -> Source:
        if isinstance(source, Source):
            return source
        name = str(source)
        if name.lower().endswith(EXCEL_SUFFIXES):
            return cls(name, 1, "sheet row")
        return cls(name, 1 if name.lower().endswith(TEXT_SUFFIXES) else None)

    def with_rows(self, rows: np.ndarray) -> Source:
        """This source for a table whose row ``i`` comes from this source's row ``rows[i]``
        (composed: a wide table read from a report's sheet still names the sheet's rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        return replace(self, rows=rows if self.rows is None else self.rows[rows])

    def where(self, position: int) -> str:
        """Location of the 0-based data row ``position``: 'x.csv row 17 (line 18)',
        'x.xlsx row 17 (sheet row 18)'."""
        if self.rows is not None:
            position = int(self.rows[position])
        text = f"{self.name} row {position + 1}"
        if self.header_lines is not None:
            text += f" ({self.line_word} {position + 1 + self.header_lines})"
        return text


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its kind, whether it is required, allowed values, range and default."""

    name: str
    kind: ColumnKind
    required: bool = False
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    #: (other name, allowed value) pairs an enum also reads (after ``header_aliases.normalise``).
    aliases: tuple[tuple[str, str], ...] = ()


def _enum(name: str, values: type[Any], required: bool = True, default: Any = None) -> ColumnSpec:
    return ColumnSpec(name, "enum", required, tuple(v.value for v in values), default=default)


_INTERACTION_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("client_id", "id", required=True),
    ColumnSpec("item_id", "id", required=True),
    replace(
        _enum("event_type", EventType, required=False, default=EventType.PURCHASE.value),
        aliases=tuple(EVENTS.items()),
    ),
    ColumnSpec("timestamp", "timestamp", required=True),
    ColumnSpec("value", "number", minimum=0.0, maximum=MAX_EVENT_VALUE, default=1.0),
)

SCHEMAS: dict[str, tuple[ColumnSpec, ...]] = {
    "items": (
        ColumnSpec("item_id", "id", required=True),
        ColumnSpec("name", "text", required=True),
        # kind and price left blank (or no column: a product list from a CRM) are filled in and
        # counted by ``recommender.integrity``: an add-on service, price 0
        replace(_enum("kind", ItemKind, required=False), aliases=tuple(KINDS.items())),
        ColumnSpec("family", "text"),
        ColumnSpec("price", "number", minimum=0.0),
        ColumnSpec("margin", "number", minimum=0.0, maximum=1.0),
        _enum("eligibility", Eligibility, required=False, default=Eligibility.BOTH.value),
        ColumnSpec("prerequisites", "list"),
        ColumnSpec("vendor", "text", default="integrator"),
        ColumnSpec("tags", "list"),
    ),
    "clients": (
        ColumnSpec("client_id", "id", required=True),
        ColumnSpec("name", "text"),
        ColumnSpec("industry", "text"),
        _enum("segment", Segment, required=False),
        ColumnSpec("size_band", "text"),
        ColumnSpec("region", "text"),
        ColumnSpec("manager_id", "text"),
        ColumnSpec("signup_date", "timestamp"),
        ColumnSpec("loyalty_tier", "text", default="bronze"),
    ),
    "interactions": (*_INTERACTION_SPECS, ColumnSpec("event_id", "id")),
    # The online event log: like interactions, but every event carries its id.
    "events": (
        *_INTERACTION_SPECS,
        ColumnSpec("event_id", "id", required=True),
        ColumnSpec("request_id", "text"),
    ),
}
#: Said when interactions lack a timestamp on some rows: a date is not guessed per row.
UNDATED_HINT = (
    "a file without a 'timestamp' column is read as a portfolio snapshot, every row dated at "
    "the import; a column with some dates missing is not"
)
#: Columns whose absence is not filled in with defaults (their presence changes meaning).
_NOT_FILLED = frozenset({"event_id"})


def _missing_mask(raw: pd.Series) -> pd.Series:
    missing = raw.isna()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        text = raw.astype(str).str.strip()
        missing |= text.eq("") & ~missing
    return missing


Converted = tuple[pd.Series, pd.Series, Callable[[Any], str]]


def _as_text(raw: pd.Series) -> pd.Series:
    return raw.astype(str).str.strip().astype("str")


def _convert_enum(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    lookup = {v.lower(): v for v in spec.allowed} | dict(spec.aliases)
    clean = normalise_all(_as_text(raw)).map(lookup)
    bad = clean.isna() & ~missing
    options = ", ".join(spec.allowed)
    if spec.aliases:  # a long list is shown by one other name per value
        first: dict[str, str] = {}
        for name, value in spec.aliases:
            first.setdefault(value, name)
        shown = [n for n, _ in spec.aliases] if len(spec.aliases) <= 12 else [*first.values()]
        more = ", ..." if len(shown) < len(spec.aliases) else ""
        options += f" (or {', '.join(shown)}{more})"
    return clean.astype("str"), bad, lambda v: f"{v!r} is not one of {options}"


def _convert_number(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    if pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(object)
    source = raw if pd.api.types.is_numeric_dtype(raw.dtype) else _as_text(raw)
    clean = pd.to_numeric(source, errors="coerce").astype("float64")
    not_number = clean.isna() & ~missing
    bad = not_number | np.isinf(clean)
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    bad |= (clean < low) | (clean > high)
    numbers = clean

    def reason(value: Any) -> str:
        number = pd.to_numeric(pd.Series([value]).astype(str).str.strip(), errors="coerce")[0]
        if pd.isna(number):
            return f"{value!r} is not a number"
        if not np.isfinite(number):
            return f"{value!r} is not a finite number"
        if number < low:
            return f"{value!r} is below the minimum {low:g}"
        return f"{value!r} is above the maximum {high:g}"

    return numbers, bad, reason


def _parse_timestamps(raw: pd.Series, missing: pd.Series) -> tuple[pd.Series, str]:
    """UTC timestamps (microseconds) of ``raw``, ``NaT`` where a value is not one; and, when
    text is not read because its column's dates are ambiguous, why (else "")."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC").dt.as_unit("us"), ""
    if pd.api.types.is_datetime64_dtype(raw.dtype):  # naive timestamps are taken as UTC
        return raw.dt.tz_localize("UTC").dt.as_unit("us"), ""
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]"), ""
    text = _as_text(raw)
    clean = dates.parse(text, dates.ISO)
    if not (clean.isna() & ~missing).any():
        return clean.dt.as_unit("us"), ""
    try:  # not ISO: a CRM's local format, inferred per column (never guessed)
        fmt = dates.column_format(text[~missing])
    except dates.AmbiguousDates as ambiguous:
        return clean.dt.as_unit("us"), f"is ambiguous: {ambiguous}"
    if fmt is not None:
        clean = dates.parse(text, fmt)
    return clean.dt.as_unit("us"), ""


_LOCAL = ", ".join(dict.fromkeys(dates.human(f.split(" ")[0]) for f in dates.FORMATS))


def _convert_timestamp(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    """Timestamps within ``recommender.bounds`` (the range the events API accepts too)."""
    clean, unread_why = _parse_timestamps(raw, missing)
    earliest = pd.Timestamp(EARLIEST_TIMESTAMP)
    latest = pd.Timestamp(latest_timestamp(datetime.now(UTC)))
    bad = (clean.isna() & ~missing) | (clean < earliest) | (clean > latest)
    stamps = dict(zip(raw[bad], clean[bad], strict=True))  # one format per column

    def reason(value: Any) -> str:
        shown = repr(value.isoformat() if isinstance(value, datetime) else value)
        stamp = stamps.get(value, pd.NaT)
        if pd.isna(stamp):
            if unread_why:
                return f"{shown} {unread_why}"
            return f"{shown} is not a timestamp (expected ISO 8601, or one of {_LOCAL} per column)"
        if stamp < earliest:
            return f"{shown} is before {earliest.date()}, the earliest timestamp accepted"
        return f"{shown} is more than 1 day in the future"

    return clean, bad, reason


def _split_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _convert_list(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    clean = pd.Series([_split_list(v) for v in raw.tolist()], index=raw.index, dtype=object)
    return clean, pd.Series(False, index=raw.index), lambda v: f"{v!r} is not a list"


def _convert_text(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    clean = _as_text(raw).where(~missing)
    return clean, pd.Series(False, index=raw.index), lambda v: f"{v!r} is not text"


def _convert_id(raw: pd.Series, spec: ColumnSpec, missing: pd.Series) -> Converted:
    """Ids as text; a float column of whole numbers as integers (``1.0`` -> ``'1'``): a
    Parquet writer stores an integer id column with a gap as float, and ``'1.0'`` would then
    match no ``'1'`` of another table."""
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64)[~missing.to_numpy()]
        if np.all(np.isfinite(values) & (values == np.round(values)) & (abs(values) < 2**53)):
            raw = raw.astype("Int64")
    return _convert_text(raw, spec, missing)


_CONVERTERS: dict[ColumnKind, Callable[[pd.Series, ColumnSpec, pd.Series], Converted]] = {
    "id": _convert_id,
    "text": _convert_text,
    "enum": _convert_enum,
    "number": _convert_number,
    "timestamp": _convert_timestamp,
    "list": _convert_list,
}


def validate_table(
    frame: pd.DataFrame, table: str, *, source: str | os.PathLike[str] | Source = "<frame>"
) -> pd.DataFrame:
    """A clean typed copy of ``frame`` checked against the schema of ``table``.

    Raises ``DataValidationError`` naming file, row, column and reason for every bad value,
    and naming the file and column for a missing required column. The index of the result is
    the 0-based data row of the input, so later checks can still name rows.
    """
    if table not in SCHEMAS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(SCHEMAS)}")
    where = Source.of(source)
    specs = SCHEMAS[table]
    frame = schema_headers(frame, table, where)
    snapshot = table == "interactions" and "timestamp" not in frame.columns
    absent = [
        s.name
        for s in specs
        if s.required and s.name not in frame.columns and not (snapshot and s.name == "timestamp")
    ]
    if absent:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataValidationError(
            [
                f"{where.name}: missing required column {n!r} (columns found: {found})"
                for n in absent
            ]
        )
    if frame.empty:
        raise DataValidationError([f"{where.name}: no data rows ({table} table is empty)"])
    if snapshot:
        frame = dated_at_import(frame, where)

    out = frame.reset_index(drop=True).copy()
    examples: list[tuple[int, int, str]] = []
    total = 0
    undated = False
    for order, spec in enumerate(specs):
        if spec.name not in out.columns:
            if spec.name not in _NOT_FILLED:
                out[spec.name] = _default_column(spec, len(out))
            continue
        raw = out[spec.name]
        missing = _missing_mask(raw)
        clean, bad, reason = _CONVERTERS[spec.kind](raw, spec, missing)
        required_missing = missing & spec.required
        if table == "interactions" and spec.name == "timestamp":
            undated = bool(required_missing.any())
        for mask, explain in ((required_missing, lambda _v: "value is missing"), (bad, reason)):
            count = int(mask.sum())
            if not count:
                continue
            total += count
            for position in np.flatnonzero(mask.to_numpy())[:MAX_LISTED]:
                text = f"{where.where(int(position))}, column {spec.name!r}: "
                examples.append((int(position), order, text + explain(raw.iloc[position])))
        if spec.default is not None and spec.kind != "list":
            clean = clean.where(~missing, spec.default)
        out[spec.name] = clean
    if total:
        examples.sort()
        hint = UNDATED_HINT if undated else None
        raise DataValidationError([text for *_key, text in examples], total, hint=hint)
    if table == "clients":
        known = {spec.name for spec in specs}
        for name in [c for c in out.columns if c not in known]:
            column = out[name]
            iso = None if pd.api.types.is_numeric_dtype(column.dtype) else dates.iso_text(column)
            if iso is not None:
                out[name] = iso
    return out


def schema_headers(frame: pd.DataFrame, table: str, where: Source) -> pd.DataFrame:
    """``frame`` with its headers as the schema of ``table`` spells them: spaces around a header
    dropped, a header that differs from a schema column only in case (Excel's ``Client_ID``)
    renamed to it, and a Russian header (``Отрасль``, ``Код клиента``:
    ``recommender.header_aliases``) read as the schema column the file does not name itself,
    each said in a warning. Two headers naming the same column are an error naming both."""
    names = {spec.name for spec in SCHEMAS[table]}
    renamed: dict[Any, str] = {}
    for column in frame.columns:
        text = str(column).strip()
        renamed[column] = text.lower() if text.lower() in names else text
    aliased = header_aliases(table, list(renamed.values()))
    for column, name in renamed.items():
        if name in aliased:
            _log.warning("%s: column %r read as %r", where.name, str(column), aliased[name])
            renamed[column] = aliased[name]
    seen: dict[str, list[str]] = {}
    for column, name in renamed.items():
        seen.setdefault(name, []).append(str(column))
    if clashes := {name: given for name, given in seen.items() if len(given) > 1}:
        raise DataValidationError(
            [
                f"{where.name}: columns {', '.join(map(repr, given))} name the same column {name!r}"
                for name, given in clashes.items()
            ]
        )
    if all(str(column) == name for column, name in renamed.items()):
        return frame
    return frame.rename(columns=renamed)


def dated_at_import(frame: pd.DataFrame, where: Source) -> pd.DataFrame:
    """Interactions without a ``timestamp`` column: a portfolio snapshot (what a client owns,
    as most CRM exports list it), every row dated now, the time of the import. Said in a
    warning; the snapshot split then evaluates it (``recommender.evaluation.splits``)."""
    now = datetime.now(UTC).replace(microsecond=0)
    _log.warning(
        "%s: no 'timestamp' column: read as a portfolio snapshot, every row dated %s (now)",
        where.name,
        now.isoformat(),
    )
    return frame.assign(timestamp=now.isoformat())


def _default_column(spec: ColumnSpec, length: int) -> pd.Series:
    if spec.kind == "list":
        return pd.Series([[] for _ in range(length)], dtype=object)
    if spec.kind == "number":
        value = np.nan if spec.default is None else float(spec.default)
        return pd.Series(np.full(length, value, dtype=np.float64))
    if spec.kind == "timestamp":
        return pd.Series(pd.NaT, index=range(length), dtype="datetime64[us, UTC]")
    return pd.Series([spec.default] * length, dtype="str")
