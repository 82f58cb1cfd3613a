"""The event log as time-sorted numpy arrays, ready to be cut at any date.

``EventLog.from_frames(interactions, clients, items)`` reads the imported tables once: every
event gets a client number, an item number, a type code and a time in days (UTC, from the Unix
epoch); events are sorted by time so that "everything before a cut-off" is a prefix found by
binary search. Features (``churn.features``) and labels (``churn.labels``) only ever read such
prefixes and windows, which is what keeps the future out of the features.

A cancellation followed within a day by the start of another tier of the same tariff family is
a *move* (an upgrade or a downgrade, by list price), not a lost service; ``move`` marks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from recommender.domain import EventType

#: Event type codes (position in this tuple); unknown types get -1 and are ignored.
EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
TYPE = {name: code for code, name in enumerate(EVENT_TYPES)}
OWNING = np.array(
    [TYPE[e] for e in ("purchase", "subscription_start", "renewal", "enrolment", "completion")]
)
ITEM_KINDS: tuple[str, ...] = ("tariff", "course", "addon")
TARIFF, COURSE, ADDON = range(len(ITEM_KINDS))
#: A start this many days after a cancellation in the same family makes the pair a tier move.
MOVE_WINDOW_DAYS = 1.0
_DAY_NS = 86_400 * 10**9


class ChurnDataError(ValueError):
    """The data cannot support churn features or labels (the message says what is missing)."""


def from_day(day: float) -> pd.Timestamp:
    return pd.Timestamp(round(day * _DAY_NS), tz="UTC")


def _codes(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    index = {v: i for i, v in enumerate(vocabulary)}
    return np.array([index.get(str(v), -1) for v in values.tolist()], dtype=np.int32)


@dataclass(frozen=True, eq=False)
class EventLog:
    """Events (sorted by ``day``) with client / item numbers; client and item attributes."""

    client_ids: np.ndarray  # (n_clients,) str
    client: np.ndarray  # (n_events,) int64 client number
    item: np.ndarray  # (n_events,) int64 item number
    type: np.ndarray  # (n_events,) int8 code into EVENT_TYPES
    day: np.ndarray  # (n_events,) float64, sorted
    value: np.ndarray  # (n_events,) float64
    move: np.ndarray  # (n_events,) int8: +1 / -1 a cancellation that is an up- / downgrade
    item_kind: np.ndarray  # (n_items,) int8 code into ITEM_KINDS, -1 unknown
    item_price: np.ndarray  # (n_items,) float64
    #: Per client: signup day (NaN if unknown) and the attribute frame (client_id index).
    signup_day: np.ndarray
    clients: pd.DataFrame

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_price)

    @property
    def first_day(self) -> float:
        return float(self.day[0]) if len(self.day) else float("nan")

    @property
    def last_day(self) -> float:
        return float(self.day[-1]) if len(self.day) else float("nan")

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {str(c): i for i, c in enumerate(self.client_ids.tolist())}

    @classmethod
    def from_frames(
        cls,
        interactions: pd.DataFrame,
        clients: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
    ) -> EventLog:
        """Build the log; ``ChurnDataError`` names a missing column."""
        for column in ("client_id", "item_id", "event_type", "timestamp"):
            if column not in interactions:
                raise ChurnDataError(f"interactions have no {column!r} column")
        stamps = pd.to_datetime(interactions["timestamp"], utc=True).dt.as_unit("ns")
        day = stamps.astype("int64").to_numpy() / _DAY_NS
        order = np.argsort(day, kind="stable")
        events = interactions.iloc[order]
        day = day[order]

        known = clients["client_id"].astype(str).tolist() if clients is not None else []
        seen = pd.unique(events["client_id"].astype(str))
        client_ids = np.array(list(dict.fromkeys([*known, *seen.tolist()])), dtype=str)
        client_index = {c: i for i, c in enumerate(client_ids.tolist())}
        item_table = items if items is not None else pd.DataFrame({"item_id": []})
        item_list = list(
            dict.fromkeys(
                [
                    *item_table["item_id"].astype(str).tolist(),
                    *pd.unique(events["item_id"].astype(str)).tolist(),
                ]
            )
        )
        item_index = {v: i for i, v in enumerate(item_list)}
        kinds = (
            item_table.set_index(item_table["item_id"].astype(str))["kind"]
            if "kind" in item_table
            else pd.Series(dtype=str)
        )
        prices = (
            item_table.set_index(item_table["item_id"].astype(str))["price"]
            if "price" in item_table
            else pd.Series(dtype=float)
        )
        families = (
            item_table.set_index(item_table["item_id"].astype(str))["family"]
            if "family" in item_table
            else pd.Series(dtype=str)
        )
        kind_code = {k: i for i, k in enumerate(ITEM_KINDS)}
        item_kind = np.array(
            [kind_code.get(str(kinds.get(i, "")), -1) for i in item_list], dtype=np.int8
        )
        item_price = np.array(
            [float(prices.get(i, 0.0) or 0.0) for i in item_list], dtype=np.float64
        )
        item_price = np.nan_to_num(item_price)
        family = [families.get(i) for i in item_list]

        client = np.array(
            [client_index[c] for c in events["client_id"].astype(str).tolist()], dtype=np.int64
        )
        item = np.array(
            [item_index[i] for i in events["item_id"].astype(str).tolist()], dtype=np.int64
        )
        etype = np.array(
            [TYPE.get(t, -1) for t in events["event_type"].astype(str).tolist()], dtype=np.int8
        )
        value = (
            pd.to_numeric(events["value"], errors="coerce").fillna(1.0).to_numpy(np.float64)
            if "value" in events
            else np.ones(len(events))
        )
        move = _moves(client, item, etype, day, family, item_price)

        frame = (
            clients.assign(client_id=clients["client_id"].astype(str)).set_index("client_id")
            if clients is not None
            else pd.DataFrame(index=pd.Index([], name="client_id"))
        )
        frame = frame.reindex(client_ids)
        signup = np.full(len(client_ids), np.nan)
        if "signup_date" in frame:
            parsed = pd.to_datetime(frame["signup_date"], utc=True, errors="coerce").dt.as_unit(
                "ns"
            )
            known_signup = parsed.notna().to_numpy()
            signup[known_signup] = parsed[known_signup].astype("int64").to_numpy() / _DAY_NS
        return cls(
            client_ids=client_ids,
            client=client,
            item=item,
            type=etype,
            day=day,
            value=value,
            move=move,
            item_kind=item_kind,
            item_price=item_price,
            signup_day=signup,
            clients=frame,
        )

    def codes(self, column: str, vocabulary: list[str]) -> np.ndarray:
        """Per client: the position of its ``column`` value in ``vocabulary`` (-1 unknown)."""
        if column not in self.clients:
            return np.full(self.n_clients, -1, dtype=np.int32)
        return _codes(self.clients[column].fillna(""), vocabulary)

    def with_futures_swapped(self, day: float, giver: np.ndarray, taker: np.ndarray) -> EventLog:
        """The same log where the events from ``day`` on of client ``giver[j]`` belong to
        ``taker[j]`` (the other clients' events are untouched); the control of
        ``churn.backtest``: features that read only the past cannot see the swap."""
        owner = np.arange(self.n_clients)
        owner[np.asarray(giver, dtype=np.int64)] = np.asarray(taker, dtype=np.int64)
        late = self.day >= day
        client = np.where(late, owner[self.client], self.client)
        return EventLog(
            self.client_ids,
            client,
            self.item,
            self.type,
            self.day,
            self.value,
            self.move,
            self.item_kind,
            self.item_price,
            self.signup_day,
            self.clients,
        )


def _moves(
    client: np.ndarray,
    item: np.ndarray,
    etype: np.ndarray,
    day: np.ndarray,
    family: list[object],
    price: np.ndarray,
) -> np.ndarray:
    """+1 / -1 on cancellations followed (within ``MOVE_WINDOW_DAYS``) by a start of a dearer /
    cheaper tier of the same family; 0 elsewhere."""
    move = np.zeros(len(client), dtype=np.int8)
    names = sorted({str(f) for f in family if isinstance(f, str) and f})
    if not names:
        return move
    code = {f: i for i, f in enumerate(names)}
    item_family = np.array(
        [code[str(f)] if isinstance(f, str) and f in code else -1 for f in family], dtype=np.int64
    )
    relevant = np.flatnonzero(
        ((etype == TYPE["cancellation"]) | (etype == TYPE["subscription_start"]))
        & (item_family[item] >= 0)
    )
    if len(relevant) < 2:
        return move
    fam = item_family[item[relevant]]
    # by client, family, time; a start sorts after a cancellation at the same time
    is_start = (etype[relevant] == TYPE["subscription_start"]).astype(np.int64)
    order = np.lexsort((is_start, day[relevant], fam, client[relevant]))
    rows = relevant[order]
    prev, nxt = rows[:-1], rows[1:]
    pair = (
        (client[prev] == client[nxt])
        & (item_family[item[prev]] == item_family[item[nxt]])
        & (etype[prev] == TYPE["cancellation"])
        & (etype[nxt] == TYPE["subscription_start"])
        & (day[nxt] - day[prev] <= MOVE_WINDOW_DAYS)
    )
    direction = np.sign(price[item[nxt]] - price[item[prev]]).astype(np.int8)
    move[prev[pair]] = np.where(direction[pair] == 0, 1, direction[pair])
    return move
