"""Retention per variant: of the exposed clients that held a tariff when first exposed, how
many churned (held no tariff any more) by the end of the experiment's window.

Churn here is the churn model's definition (``recommender.churn.labels``): a client that
cancelled every tariff and took none back. What a client holds at a moment is replayed from its
events (the last owning or cancelling event of each offer before the moment decides, as
``recommender.churn.holdings`` does), so the history must reach back before the experiment: the
report takes the offline store's whole log (snapshot and flushed events). Offers count as
tariffs by the catalog's ``kind``; without a catalog every offer counts (a client then churns
when it holds nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recommender.domain import OWNING_EVENTS, EventType

_OWNING = {e.value for e in OWNING_EVENTS}
_CANCEL = EventType.CANCELLATION.value
HISTORY_COLUMNS: tuple[str, ...] = ("client_id", "item_id", "event_type", "timestamp")


def _holders(events: pd.DataFrame, before: pd.Series) -> pd.Index:
    """Clients holding at least one offer of ``events`` just before their own moment."""
    early = events.loc[events["timestamp"] < events["client_id"].map(before)]
    if early.empty:
        return pd.Index([])
    last = early.sort_values("timestamp", kind="stable").groupby(["client_id", "item_id"]).tail(1)
    held = last.loc[last["event_type"] != _CANCEL, "client_id"]
    return pd.Index(held.unique())


def variant_retention(
    clients: pd.DataFrame,
    history: pd.DataFrame,
    window_end: pd.Timestamp,
    variants: Sequence[str],
    tariff_items: set[str] | None = None,
) -> pd.DataFrame:
    """Per variant (index, in order): ``at_risk_clients`` (held a tariff at first exposure),
    ``churned`` (of those, none held at ``window_end``), ``churn_rate`` and ``retention``.

    ``clients``: exposed clients (index ``client_id``; ``variant``, ``first_seen``);
    ``history``: events with ``HISTORY_COLUMNS``.
    """
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"retention: the history lacks column(s) {', '.join(missing)}")
    frame = history.loc[:, list(HISTORY_COLUMNS)].copy()
    frame["client_id"] = frame["client_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    keep = frame["client_id"].isin(clients.index.astype(str)) & frame["event_type"].isin(
        _OWNING | {_CANCEL}
    )
    if tariff_items is not None:
        keep &= frame["item_id"].isin(tariff_items)
    frame = frame.loc[keep]
    clients = clients.set_axis(clients.index.astype(str))
    start = clients["first_seen"]
    # held at the end: events up to and including ``window_end``
    end = pd.Series(pd.Timestamp(window_end) + pd.Timedelta(microseconds=1), index=clients.index)
    at_risk = clients.index.isin(_holders(frame, start))
    still = clients.index.isin(_holders(frame, end))
    table = pd.DataFrame(
        {"variant": clients["variant"], "at_risk": at_risk, "churned": at_risk & ~still}
    )
    counts = table.groupby("variant")[["at_risk", "churned"]].sum().reindex(list(variants))
    counts = counts.fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = counts["churned"] / counts["at_risk"].where(counts["at_risk"] > 0)
    return pd.DataFrame(
        {
            "at_risk_clients": counts["at_risk"],
            "churned": counts["churned"],
            "churn_rate": rate.astype(np.float64),
            "retention": (1.0 - rate).astype(np.float64),
        }
    )


def tariff_ids(items: pd.DataFrame | None) -> set[str] | None:
    """Ids of the catalog's tariffs (``None``: no catalog kinds, every offer counts)."""
    if items is None or "kind" not in items.columns:
        return None
    return set(items.loc[items["kind"].astype(str) == "tariff", "item_id"].astype(str))
