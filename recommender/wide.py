"""A client x offer table ("who owns what", one row per client) read as long interactions.

Many CRM exports of a portfolio are wide: ``client_id`` and one column per offer holding how
many the client has (0 or blank: none). ``recsys data import --interactions`` reads such a file
when it has no ``item_id`` column and at least one column named as an offer of the catalogue;
then every column other than ``client_id`` (and an optional per-row ``timestamp`` /
``event_type``) is an offer, a total (``Итого``: skipped) or an attribute of the client
(``sex``, ``Отрасль``, ``birth_year``: an export that lists each client's card and products in
one row). Every offer cell is a count >= 0 or a mark (``да`` / ``нет``, ``yes`` / ``no``,
``x``: ``MARKS``). Without a ``client_id`` column the client's key is
the one column that is not an offer, or else the column a clients file would read as
``client_id`` (``ID``, ``ИНН``: ``recommender.header_aliases``), said at import. Each count
above zero becomes one interaction with that ``value``; the attributes, one row per wide row,
are the clients table of the import (``recommender.table_files.read_tables``). Problems name the
wide file's row and column; a problem found later (an unknown client) names the wide row its
interaction came from (``Source.rows``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.bounds import MAX_EVENT_VALUE
from recommender.header_aliases import header_aliases, normalise, normalise_all
from recommender.schema import MAX_LISTED, DataValidationError, Source
from recommender.sheet_layout import TOTAL_WORDS

_log = logging.getLogger(__name__)
#: Columns a wide row may carry besides ``client_id`` and the offers (one value per client).
ROW_COLUMNS = ("timestamp", "event_type")
#: Marks an export writes for "owns" / "does not own" instead of a count (after ``normalise``;
#: ``х`` is the Cyrillic letter, ``true`` / ``false`` an Excel boolean cell).
MARKS: dict[str, float] = {
    **dict.fromkeys(("да", "yes", "y", "true", "x", "х", "+", "v", "✓", "✔", "есть"), 1.0),
    **dict.fromkeys(("нет", "no", "n", "false", "-", "–", "—"), 0.0),
}


def offer_columns(frame: pd.DataFrame, offers: Collection[str]) -> list[str]:
    """The columns of ``frame`` named as offers, when it is a wide portfolio table (no
    ``item_id`` column, a client key: ``client_key``); else none."""
    columns = [str(c) for c in frame.columns]
    if "item_id" in columns:
        return []
    known = {normalise(offer) for offer in offers}  # names as integrity matches them
    items = [c for c in columns if normalise(c) in known]
    return items if items and client_key(columns, items) is not None else []


def warn_offer_attributes(clients: pd.DataFrame, offers: Collection[str], name: str) -> list[str]:
    """Warn of (and return) columns of a clients file named as offers: read as the clients'
    attributes, they are what each client owned when the file was written, which a time split
    must not see; given as ``--interactions`` the file is read as what the clients own."""
    known = {normalise(offer) for offer in offers}
    named = [str(c) for c in clients.columns if c != "client_id" and normalise(str(c)) in known]
    if named:
        _log.warning(
            "%s: column(s) %s are named as offers: read as the clients' attributes (give the "
            "file as --interactions to read them as what the clients own)",
            name,
            ", ".join(map(repr, named[:MAX_LISTED])) + (" ..." if len(named) > MAX_LISTED else ""),
        )
    return named


def client_key(columns: list[str], items: list[str]) -> str | None:
    """The column of a wide table naming the client: ``client_id``, else the one column that is
    neither an offer, a row column nor a total (an export's ``Customer``), else the one a
    clients file would read as ``client_id`` (``ID``, ``ИНН``); None when none is."""
    if "client_id" in columns:
        return "client_id"
    rest = [c for c in columns if c not in {*items, *ROW_COLUMNS} and not _total(c)]
    if len(rest) == 1:
        return rest[0]
    aliased = header_aliases("clients", rest)
    return next((h for h, column in aliased.items() if column == "client_id"), None)


def _total(column: str) -> bool:
    return normalise(column) in TOTAL_WORDS


@dataclass(frozen=True)
class Portfolio:
    """A wide table read: its interactions (``source`` names each one's wide row) and the
    clients' attributes (``client_id`` and the other columns, one row per wide row, named by
    ``attribute_source``; no column but ``client_id`` when the table has none)."""

    interactions: pd.DataFrame
    source: Source
    attributes: pd.DataFrame
    attribute_source: Source

    @property
    def attribute_names(self) -> list[str]:
        return [str(c) for c in self.attributes.columns if c != "client_id"]


def long_from_wide(
    frame: pd.DataFrame, offers: Collection[str], source: Source, *, attributes: bool = False
) -> Portfolio:
    """The interactions of the wide ``frame`` (see the module), and its clients' attributes:
    columns other than offers are an error unless ``attributes``. ``frame`` holds text cells
    (CSV, Excel) or numbers (Parquet)."""
    frame = frame.reset_index(drop=True)
    items = offer_columns(frame, offers)
    if not items:
        raise DataValidationError([f"{source.name}: no column names an offer of the catalogue"])
    key = client_key([str(c) for c in frame.columns], items)
    others = [str(c) for c in frame.columns if str(c) not in {"client_id", *items, *ROW_COLUMNS}]
    if key != "client_id":
        single = sum(not _total(c) for c in others) == 1
        why = "the one column not an offer" if single else "as a clients file reads it"
        _log.warning("%s: column %r read as 'client_id' (%s)", source.name, key, why)
        frame = frame.rename(columns={key: "client_id"})
        others.remove(str(key))
    if totals := [c for c in others if _total(c)]:
        _log.warning("%s: column(s) %s skipped (a report's total)", source.name, totals)
        others = [c for c in others if c not in totals]
    if others and not attributes:
        raise DataValidationError(
            [
                f"{source.name}: read as a client x offer table (no 'item_id' column; "
                f"{len(items)} columns are offers), but column {c!r} is not an offer of the "
                "catalogue"
                for c in others
            ],
            hint="a long file has one row per client and offer, with an 'item_id' column; "
            "the clients' attributes come with the offers when --clients is not given",
        )
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (rows, offer, count) each
    problems: list[str] = []
    total = 0
    for j, item in enumerate(items):
        raw = frame[item]
        text = raw.astype(str).str.strip() if not pd.api.types.is_numeric_dtype(raw) else None
        blank = raw.isna() if text is None else raw.isna() | (text == "")
        values = pd.to_numeric(raw if text is None else text.where(~blank), errors="coerce")
        if text is not None and (word := values.isna() & ~blank).any():  # only cells no number
            values = values.where(~word, normalise_all(text[word]).map(MARKS))
        bad = (values.isna() & ~blank) | (values < 0) | (values > MAX_EVENT_VALUE)
        total += int(bad.sum())
        for position in np.flatnonzero(bad.to_numpy())[:MAX_LISTED]:
            problems.append(
                f"{source.where(int(position))}, column {item!r}: {raw.iloc[position]!r} is "
                f"not a count of offer {item!r} (a number from 0 to {MAX_EVENT_VALUE:g}, or "
                "a mark: да / нет, yes / no, x)"
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
    clients = frame[["client_id", *others]]
    return Portfolio(long, source.with_rows(rows), clients, source)
