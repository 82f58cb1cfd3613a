"""An offline store whose ownership needs the snapshot and the event log replayed together.

The last 15 % of the generated interactions (by time) are flushed events instead of snapshot
rows, in two files with some events repeated (a flusher retry), plus cancellations after the
fact, a purchase and a cancellation at the same instant, and events of a client and of an offer
the tables do not know.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from feature_store.offline import OfflineStore
from recommender.synthetic.generator import SyntheticConfig, SyntheticData, generate


def portfolio_store(root: Path, n_clients: int, seed: int = 7) -> SyntheticData:
    data = generate(SyntheticConfig(n_clients=n_clients, seed=seed))
    events = data.interactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
    cut = int(len(events) * 0.85)
    store = OfflineStore(root)
    store.write_snapshot(
        {"clients": data.clients, "items": data.items, "interactions": events.iloc[:cut]}
    )
    late = events.iloc[cut:]
    store.append_events(late.iloc[: len(late) // 2])
    retried = late.iloc[len(late) // 2 - 40 : len(late) // 2]  # already flushed: same ids
    store.append_events(pd.concat([retried, late.iloc[len(late) // 2 :]], ignore_index=True))
    end = events["timestamp"].max() + pd.Timedelta(days=1)
    bought = events[events["event_type"] == "purchase"].drop_duplicates(["client_id", "item_id"])
    cancel = bought.head(30).assign(event_type="cancellation", timestamp=end)
    same = bought.iloc[30:35]
    moment = end + pd.Timedelta(hours=1)
    together = pd.concat(
        [same.assign(event_type="purchase", timestamp=moment),
         same.assign(event_type="cancellation", timestamp=moment)],
        ignore_index=True,
    )  # fmt: skip
    strangers = bought.head(3).assign(client_id="nobody-knows")
    odd_offer = bought.head(3).assign(item_id="no-such-offer")
    extra = pd.concat([cancel, together, strangers, odd_offer], ignore_index=True)
    extra["event_id"] = [f"extra-{n}" for n in range(len(extra))]
    store.append_events(extra)
    return data
