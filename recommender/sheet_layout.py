"""Where the table is in a sheet a report tool saved: title rows, blank rows and total rows.

A 1C or Excel report saved as ``.xlsx`` (or as CSV from Excel) often starts with a title and
its parameters ("Отчёт по продажам", "Период: 2024"), leaves blank rows, and ends with a total
("Итого"). ``table_rows`` finds the header: the first line when it names a column the table
knows (a schema column, an alias of ``recommender.header_aliases``, a header the user mapped,
or for interactions an offer), else the first of the next ``MAX_TITLE_ROWS`` rows that does.
Rows above it, blank rows and rows whose first cell is a total word are skipped, each kind
said in a warning; the returned source names every kept row by its own line (sheet row).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np
import pandas as pd

from recommender.header_aliases import HEADERS, normalise
from recommender.schema import SCHEMAS, Source

_log = logging.getLogger(__name__)
#: Rows below the first line searched for the header.
MAX_TITLE_ROWS = 10
#: A row whose first cell is one of these (after ``normalise``) is a report's total.
TOTAL_WORDS = frozenset({"итого", "итого:", "всего", "всего:", "total", "total:", "grand total"})


def known_headers(table: str, extra: Collection[str] = ()) -> set[str]:
    """Headers (as ``normalise`` writes them) that mark the header row of ``table``."""
    names = {spec.name for spec in SCHEMAS.get(table, ())}
    for aliases in HEADERS.get(table, {}).values():
        names.update(aliases)
    return {normalise(name) for name in names} | {normalise(str(e)) for e in extra}


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as stripped text, blank ones as '' (for the few rows searched for a header)."""
    return frame.astype(object).where(frame.notna(), "").astype(str).apply(lambda c: c.str.strip())


def _blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing or empty text, column by column (no copy of the frame;
    an object column may hold lists or numbers: only text is compared)."""
    blank = np.ones(len(frame), dtype=bool)
    for _, column in frame.items():
        empty = column.isna().to_numpy()
        if column.dtype == object:  # Excel cells: text, or values of other types
            text = column.map(lambda v: isinstance(v, str) and v == "")
            empty = empty | text.to_numpy(dtype=bool)
        elif pd.api.types.is_string_dtype(column.dtype):
            empty = empty | column.eq("").to_numpy(dtype=bool)
        blank &= empty
    return blank


def table_rows(
    frame: pd.DataFrame, table: str, source: Source, known: set[str]
) -> tuple[pd.DataFrame, Source]:
    """``frame`` (read with its first line as the header) re-headed at the header row found
    (see the module), without title, blank and total rows; the source maps each kept row to its
    line. Unchanged (the same objects) when there is nothing to skip."""
    head = _cells(frame.head(MAX_TITLE_ROWS))
    start = 0
    if not any(normalise(str(c)) in known for c in frame.columns):
        for r in range(len(head)):
            if any(normalise(v) in known for v in head.iloc[r]):
                start = r + 1
                break
    keep = np.ones(len(frame), dtype=bool)
    keep[:start] = False
    blank = _blank(frame)
    blank[:start] = False
    total = np.zeros(len(frame), dtype=bool)
    if len(frame.columns):
        first = frame.iloc[:, 0]
        words = [v for v in pd.unique(first) if isinstance(v, str) and normalise(v) in TOTAL_WORDS]
        total = first.isin(words).to_numpy().copy()
        total[:start] = False
    keep &= ~blank & ~total
    if keep.all():
        return frame, source
    if start:
        _log.warning(
            "%s: the header is on %s %d: the %d row(s) above skipped (a report's title)",
            source.name,
            source.line_word,
            start + 1,
            start,
        )
    for mask, what in ((blank, "blank row(s)"), (total, "total row(s)")):
        if mask.any():
            where = source.where(int(np.flatnonzero(mask)[0]))
            _log.warning("%s: %d %s skipped (the first: %s)", source.name, mask.sum(), what, where)
    rows = np.flatnonzero(keep)
    out = frame.iloc[rows].reset_index(drop=True)
    if start:
        header = head.iloc[start - 1].tolist()
        out.columns = [h if h else f"unnamed {j + 1}" for j, h in enumerate(header)]
    return out, source.with_rows(rows)
