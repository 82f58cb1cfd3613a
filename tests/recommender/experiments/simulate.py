"""Simulated event logs of an A/B test with known conversion rates, for the report tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-03-01", tz="UTC")


def ab_events(
    clients: Sequence[int],
    rates: Sequence[float],
    *,
    names: Sequence[str] = ("control", "treatment"),
    experiment: str = "exp",
    days: int = 14,
    seed: int = 0,
) -> pd.DataFrame:
    """``clients[i]`` clients in variant ``names[i]`` converting with ``rates[i]``.

    Each client is first exposed on a random day, gets 1-3 impressions, clicks with chance
    0.2 and, when it converts, buys within two days for a value drawn from a lognormal.
    """
    rng = np.random.default_rng(seed)
    frames = []
    offset = 0
    for name, count, rate in zip(names, clients, rates, strict=True):
        ids = np.array([f"c{offset + i:06d}" for i in range(count)])
        offset += count
        first = START + pd.to_timedelta(rng.uniform(0, days, count), unit="D")
        shown = rng.integers(1, 4, count)
        imp_clients = np.repeat(ids, shown)
        imp_time = np.repeat(first, shown) + pd.to_timedelta(
            np.concatenate([np.arange(k) for k in shown]), unit="h"
        )
        clicked = rng.random(count) < 0.2
        converted = rng.random(count) < rate
        buy_time = first[converted] + pd.to_timedelta(rng.uniform(0, 2, converted.sum()), unit="D")
        frames += [
            pd.DataFrame(
                {"event_type": "impression", "client_id": imp_clients, "timestamp": imp_time,
                 "value": 1.0, "experiment": experiment, "variant": name}
            ),
            pd.DataFrame(
                {"event_type": "click", "client_id": ids[clicked], "timestamp": first[clicked],
                 "value": 1.0, "experiment": experiment, "variant": name}
            ),
            pd.DataFrame(
                {"event_type": "purchase", "client_id": ids[converted], "timestamp": buy_time,
                 "value": rng.lognormal(8, 0.5, converted.sum()), "experiment": None,
                 "variant": None}
            ),
        ]  # fmt: skip
    events = pd.concat(frames, ignore_index=True)
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)
