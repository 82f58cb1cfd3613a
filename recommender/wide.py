"""A client x offer table ("who owns what", one row per client) read as long interactions.

Many CRM exports of a portfolio are wide: ``client_id`` and one column per offer holding how
many the client has (0 or blank: none). ``recsys data import --interactions`` reads such a file
when it has no ``item_id`` column and at least one column named as an offer of the catalogue;
then every column other than ``client_id`` (and an optional per-row ``timestamp`` /
``event_type``) must be an offer, and every cell a count >= 0. Without a ``client_id`` column
the one column that is not an offer is the client's key (an export's ``ID``), said at import.
Each count above zero becomes one interaction with that ``value``. Problems name the wide
file's row and column; a problem found later (an unknown client) names the wide row its
interaction came from (``Source.rows``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np
import pandas as pd

from recommender.bounds import MAX_EVENT_VALUE
from recommender.header_aliases import normalise
from recommender.schema import MAX_LISTED, DataValidationError, Source

_log = logging.getLogger(__name__)
#: Columns a wide row may carry besides ``client_id`` and the offers (one value per client).
ROW_COLUMNS = ("timestamp", "event_type")


def offer_columns(frame: pd.DataFrame, offers: Collection[str]) -> list[str]:
    """The columns of ``frame`` named as offers, when it is a wide portfolio table (no
    ``item_id`` column, a client key: ``client_key``); else none."""
    columns = [str(c) for c in frame.columns]
    if "item_id" in columns:
        return []
    known = {normalise(offer) for offer in offers}  # names as integrity matches them
    items = [c for c in columns if normalise(c) in known]
    return items if items and client_key(columns, items) is not None else []


def client_key(columns: list[str], items: list[str]) -> str | None:
    """The column of a wide table naming the client: ``client_id``, or else the one column that
    is neither an offer nor a row column (an export's ``ID``, ``Customer``); None when there is
    no such single column."""
    if "client_id" in columns:
        return "client_id"
    rest = [c for c in columns if c not in {*items, *ROW_COLUMNS}]
    return rest[0] if len(rest) == 1 else None


def long_from_wide(
    frame: pd.DataFrame, offers: Collection[str], source: Source
) -> tuple[pd.DataFrame, Source]:
    """The interactions of the wide ``frame`` (see the module) and the source naming, for each
    long row, its wide row. ``frame`` holds text cells (CSV, Excel) or numbers (Parquet)."""
    frame = frame.reset_index(drop=True)
    items = offer_columns(frame, offers)
    if not items:
        raise DataValidationError([f"{source.name}: no column names an offer of the catalogue"])
    key = client_key([str(c) for c in frame.columns], items)
    if key != "client_id":
        _log.warning(
            "%s: column %r read as 'client_id' (the one column not an offer)", source.name, key
        )
        frame = frame.rename(columns={key: "client_id"})
    others = [str(c) for c in frame.columns if str(c) not in {"client_id", *items, *ROW_COLUMNS}]
    if others:
        raise DataValidationError(
            [
                f"{source.name}: read as a client x offer table (no 'item_id' column; "
                f"{len(items)} columns are offers), but column {c!r} is not an offer of the "
                "catalogue"
                for c in others
            ],
            hint="a long file has one row per client and offer, with an 'item_id' column",
        )
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (rows, offer, count) each
    problems: list[str] = []
    total = 0
    for j, item in enumerate(items):
        raw = frame[item]
        text = raw.astype(str).str.strip() if not pd.api.types.is_numeric_dtype(raw) else None
        blank = raw.isna() if text is None else raw.isna() | (text == "")
        values = pd.to_numeric(raw if text is None else text.where(~blank), errors="coerce")
        bad = (values.isna() & ~blank) | (values < 0) | (values > MAX_EVENT_VALUE)
        total += int(bad.sum())
        for position in np.flatnonzero(bad.to_numpy())[:MAX_LISTED]:
            problems.append(
                f"{source.where(int(position))}, column {item!r}: {raw.iloc[position]!r} is "
                f"not a count of offer {item!r} (a number from 0 to {MAX_EVENT_VALUE:g})"
            )
        counts = values.fillna(0.0).to_numpy(dtype=np.float64)
        owned = np.flatnonzero(counts > 0)
        parts.append((owned, np.full(len(owned), j), counts[owned]))
    if total:
        raise DataValidationError(problems[:MAX_LISTED], total)
    rows, cols, value = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((cols, rows))  # each client's offers together, in column order
    rows, cols = rows[order], cols[order]
    long = pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy()[rows],
            "item_id": np.asarray(items, dtype=object)[cols],
            "value": value[order],
        }
    )
    for column in ROW_COLUMNS:
        if column in frame.columns:
            long[column] = frame[column].to_numpy()[rows]
    return long, source.with_rows(rows)
