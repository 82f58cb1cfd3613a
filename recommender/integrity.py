"""Cross-table checks of an import: unknown ids, duplicates, prerequisites to unknown items.

Nothing is dropped silently: ``check_integrity`` returns the cleaned tables with an
``ImportReport`` counting every skipped row per problem kind (with examples), or raises
``DataValidationError`` when the policy says a problem aborts the import.

Policy: exact duplicate rows (and interactions repeating an earlier one's key) are skipped and
counted; the same id with different contents is an error; unknown client / item ids and
prerequisites naming unknown items abort the import (``on_unknown='error'``) or are skipped
and counted (``on_unknown='skip'``); an interaction naming an offer by its name (no offer has
that id, exactly one has that name: a CRM export often lists products by name) is read as that
offer's id and counted. Clients without an industry (a blank cell, or no
``industry`` column) are kept and counted: an industry is what CRM exports most often leave
blank, and such a client is ranked and explained from its segment and all clients. Offers
without a kind or a price (a CRM's product list has neither) are read as add-on services at
price 0 and counted: what a catalogue built from the interactions alone holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from recommender.header_aliases import normalise
from recommender.schema import MAX_LISTED, DataValidationError, Source

OnUnknown = Literal["error", "skip"]
EXAMPLES_KEPT = 5
_ENTITY_KEYS = {"items": "item_id", "clients": "client_id"}
_NATURAL_KEY = ["client_id", "item_id", "event_type", "timestamp"]
_UNKNOWN_HINT = "pass on_unknown='skip' (CLI: --on-unknown skip) to skip and count such rows"
#: What each problem kind of an ``ImportReport`` means.
PROBLEM_KINDS: dict[str, str] = {
    "duplicate_items": "exact duplicate item rows skipped",
    "duplicate_clients": "exact duplicate client rows skipped",
    "unknown_prerequisites": "prerequisites naming unknown items removed",
    "unknown_client_id": "interactions with an unknown client_id skipped",
    "unknown_item_id": "interactions with an unknown item_id skipped",
    "duplicate_interactions": "duplicate interactions skipped (same event_id or same "
    "client, item, event_type and timestamp)",
    "item_names_as_ids": "interactions naming an offer by its name, read as its item_id",
    "client_names_as_ids": "interactions naming a client by its name, read as its client_id",
    "clients_without_industry": "clients without an industry, kept (their lists and reasons "
    "use their segment and all clients instead)",
    "items_without_kind": "offers without a kind, read as add-on services (addon)",
    "items_without_price": "offers without a price, read as 0 (no price-based boost)",
}
#: What an offer without a kind / a price is read as (``ItemKind.ADDON``: the catalogue's
#: neutral kind, and what a catalogue built from the interactions alone holds).
ITEM_DEFAULTS: dict[str, str | float] = {"kind": "addon", "price": 0.0}


@dataclass
class ImportReport:
    """Rows read and kept per table, and the count and examples of each problem kind."""

    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, count: int, examples: list[str]) -> None:
        if count:
            self.problems[kind] = self.problems.get(kind, 0) + count
            self.examples.setdefault(kind, []).extend(examples[:EXAMPLES_KEPT])

    @property
    def skipped(self) -> int:
        return sum(self.rows_read[t] - self.rows_kept.get(t, 0) for t in self.rows_read)

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON logs and MLflow."""
        return {
            "rows_read": dict(self.rows_read),
            "rows_kept": dict(self.rows_kept),
            "problems": dict(self.problems),
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


def _describe(frame: pd.DataFrame, mask: np.ndarray, source: Source, text: str) -> list[str]:
    """Messages for the first rows under ``mask``; ``text`` is formatted with the row's fields."""
    rows = frame.loc[mask].head(MAX_LISTED)
    records = rows.to_dict("records")
    return [
        f"{source.where(int(pos))}, {text.format(**{str(k): v for k, v in row.items()})}"
        for pos, row in zip(rows.index, records, strict=True)
    ]


def _item_defaults(frame: pd.DataFrame, source: Source, report: ImportReport) -> pd.DataFrame:
    """``frame`` with a blank kind / price read as ``ITEM_DEFAULTS``, each counted."""
    frame = frame.copy()
    for column, value in ITEM_DEFAULTS.items():
        # validated tables have both columns; a built one (MovieLens) may have neither
        blank = frame[column].isna().to_numpy() if column in frame else np.zeros(0, dtype=bool)
        if not blank.any():
            continue
        text = f"offer {{item_id}}: no {column}, read as {value!r}"
        examples = _describe(frame, blank, source, text)
        report.add(f"items_without_{column}", int(blank.sum()), examples)
        frame[column] = frame[column].where(~blank, value)
    return frame


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A hashable view of ``frame`` (list cells joined) for duplicate detection."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = [
                ";".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v
                for v in out[column].tolist()
            ]
    return out


def _dedupe_entities(
    frame: pd.DataFrame, table: str, source: Source, report: ImportReport
) -> pd.DataFrame:
    key = _ENTITY_KEYS[table]
    exact = _comparable(frame).duplicated(keep="first").to_numpy()
    report.add(
        f"duplicate_{table}",
        int(exact.sum()),
        _describe(frame, exact, source, f"column {key!r}: {{{key}!r}} repeats an earlier row"),
    )
    frame = frame.loc[~exact]
    conflict = frame[key].duplicated(keep=False).to_numpy()
    if conflict.any():
        raise DataValidationError(
            _describe(
                frame,
                conflict,
                source,
                f"column {key!r}: duplicate id {{{key}!r}} with different attributes",
            ),
            int(conflict.sum()),
        )
    return frame


def _check_prerequisites(
    items: pd.DataFrame, source: Source, on_unknown: OnUnknown, report: ImportReport
) -> pd.DataFrame:
    if "prerequisites" not in items:
        return items
    known = set(items["item_id"].tolist())
    lists = items["prerequisites"].tolist()
    unknown = [[p for p in v if p not in known] for v in lists]
    bad = np.array([bool(u) for u in unknown], dtype=bool)
    if not bad.any():
        return items
    messages = [
        f"{source.where(int(pos))}, column 'prerequisites': unknown item(s) "
        f"{', '.join(map(repr, u))}"
        for pos, u in zip(items.index, unknown, strict=True)
        if u
    ]
    count = sum(len(u) for u in unknown)
    if on_unknown == "error":
        raise DataValidationError(messages[:MAX_LISTED], count, hint=_UNKNOWN_HINT)
    report.add("unknown_prerequisites", count, messages)
    items = items.copy()
    items["prerequisites"] = [[p for p in v if p in known] for v in lists]
    return items


def entity_names(table: pd.DataFrame, key: str) -> dict[str, str]:
    """Name -> id (``key``) of the offers / clients of ``table``, the names as
    ``header_aliases.normalise`` writes them (case, spaces, ``ё``: a CRM's sales register and its
    product list do not always agree), for names that no other row shares so written and that
    are no row's id; empty without a ``name`` column."""
    if "name" not in table:
        return {}
    ids = set(table[key].tolist())
    names = table["name"].dropna()
    names = names[~names.isin(ids)]
    written = names.map(normalise)
    unique = ~written.duplicated(keep=False)
    return dict(
        zip(written[unique].tolist(), table.loc[names.index[unique], key].tolist(), strict=True)
    )


def offer_names(items: pd.DataFrame) -> dict[str, str]:
    """Offer name (as ``normalise`` writes it) -> item_id: ``entity_names`` of the offers."""
    return entity_names(items, "item_id")


def _names_as_ids(
    frame: pd.DataFrame, table: pd.DataFrame, key: str, source: Source, report: ImportReport
) -> pd.DataFrame:
    """Interactions whose ``key`` (``item_id`` / ``client_id``) is no row's id of ``table`` but
    exactly one row's name (a CRM export lists the product's or the client's name) read as that
    row's id, counted with examples."""
    column = frame[key]
    unknown = ~column.isin(set(table[key].tolist())) & column.notna()
    if not unknown.any():  # the usual import: every row by id, no name written out
        return frame
    names = entity_names(table, key)
    values = column[unknown]
    lookup = {value: names.get(normalise(value)) for value in values.unique()}
    mapped = values.map(lookup)
    named = np.zeros(len(frame), dtype=bool)
    named[np.flatnonzero(unknown.to_numpy())[mapped.notna().to_numpy()]] = True
    if not named.any():
        return frame
    frame = frame.copy()
    frame.loc[named, "mapped_id"] = mapped[mapped.notna()].to_numpy()
    entity, kind = ("offer", "item") if key == "item_id" else ("client", "client")
    text = f"{entity} {{{key}!r}} is named by its name: read as {key} {{mapped_id!r}}"
    examples = _describe(frame, named, source, text)
    report.add(f"{kind}_names_as_ids", int(named.sum()), examples)
    frame.loc[named, key] = frame.loc[named, "mapped_id"]
    return frame.drop(columns="mapped_id")


def _check_interactions(
    frame: pd.DataFrame,
    ids: Mapping[str, set[str] | None],
    source: Source,
    on_unknown: OnUnknown,
    report: ImportReport,
) -> pd.DataFrame:
    unknown_any = np.zeros(len(frame), dtype=bool)
    messages: list[str] = []
    total = 0
    for column, known in ids.items():
        if known is None:
            continue
        unknown = ~frame[column].isin(known).to_numpy()
        if unknown.any():
            kind = column.split("_")[0]
            found = _describe(
                frame, unknown, source, f"column {column!r}: unknown {kind} {{{column}!r}}"
            )
            total += int(unknown.sum())
            messages.extend(found)
            report.add(f"unknown_{column}", int(unknown.sum()), found)
            unknown_any |= unknown
    if total and on_unknown == "error":
        raise DataValidationError(messages, total, hint=_UNKNOWN_HINT)
    frame = frame.loc[~unknown_any]

    event_ids = (
        frame["event_id"] if "event_id" in frame else pd.Series(np.nan, frame.index, dtype="str")
    )
    has_id = event_ids.notna().to_numpy()
    by_id = frame.loc[has_id]
    key_dup = event_ids[has_id].duplicated(keep="first").to_numpy()
    exact_dup = key_dup.copy()
    if key_dup.any():  # full-row comparison only when some event id repeats
        exact_dup = _comparable(by_id).duplicated(keep="first").to_numpy()
    if (key_dup & ~exact_dup).any():
        raise DataValidationError(
            _describe(
                by_id,
                key_dup & ~exact_dup,
                source,
                "column 'event_id': {event_id!r} repeats an earlier event with other values",
            ),
            int((key_dup & ~exact_dup).sum()),
        )
    natural_dup = frame.loc[~has_id].duplicated(subset=_NATURAL_KEY, keep="first").to_numpy()
    duplicate = np.zeros(len(frame), dtype=bool)
    duplicate[np.flatnonzero(has_id)[key_dup]] = True
    duplicate[np.flatnonzero(~has_id)[natural_dup]] = True
    report.add(
        "duplicate_interactions",
        int(duplicate.sum()),
        _describe(
            frame,
            duplicate,
            source,
            "client {client_id!r}, item {item_id!r}, {event_type} at {timestamp} "
            "repeats an earlier row",
        ),
    )
    return frame.loc[~duplicate]


def check_integrity(
    tables: Mapping[str, pd.DataFrame],
    *,
    on_unknown: OnUnknown = "error",
    sources: Mapping[str, Source] | None = None,
) -> tuple[dict[str, pd.DataFrame], ImportReport]:
    """Check validated ``items`` / ``clients`` / ``interactions`` frames against each other.

    Any subset of tables may be given; ids are checked only against tables that are present.
    Row numbers in messages are the frames' index + 1 (``validate_table`` keeps input rows).
    Returns the cleaned tables (fresh 0..n-1 index) and the report.
    """
    if on_unknown not in ("error", "skip"):
        raise ValueError(f"on_unknown must be 'error' or 'skip', not {on_unknown!r}")
    sources = dict(sources or {})
    report = ImportReport()
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        report.rows_read[name] = len(frame)
        source = sources.get(name, Source(name))
        if name in _ENTITY_KEYS:
            frame = _dedupe_entities(frame, name, source, report)
        if name == "items":
            frame = _item_defaults(frame, source, report)
        if name == "clients" and "industry" in frame:
            blank = frame["industry"].isna().to_numpy()
            text = "column 'industry': no industry (kept)"
            report.add(
                "clients_without_industry", int(blank.sum()), _describe(frame, blank, source, text)
            )
        out[name] = frame
    if "items" in out:
        out["items"] = _check_prerequisites(
            out["items"], sources.get("items", Source("items")), on_unknown, report
        )
    for table, key in (("items", "item_id"), ("clients", "client_id")):
        if "interactions" in out and table in out:
            out["interactions"] = _names_as_ids(
                out["interactions"],
                out[table],
                key,
                sources.get("interactions", Source("interactions")),
                report,
            )
    if "interactions" in out:
        known = {
            "client_id": set(out["clients"]["client_id"].tolist()) if "clients" in out else None,
            "item_id": set(out["items"]["item_id"].tolist()) if "items" in out else None,
        }
        out["interactions"] = _check_interactions(
            out["interactions"],
            known,
            sources.get("interactions", Source("interactions")),
            on_unknown,
            report,
        )
    for name, frame in out.items():
        report.rows_kept[name] = len(frame)
        out[name] = frame.reset_index(drop=True)
    return out, report
