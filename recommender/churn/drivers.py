"""Why a client is at risk, in words a manager acts on: the drivers of its churn risk.

Each driver is a plain rule on the client's features as of the scoring day, the same facts the
synthetic churn story and the business name ("one active service", "no course in 12 months",
"usage down 40 % over 90 days"); the model's probability says how much risk, the drivers say
where it comes from. Listed in a fixed order of importance, only those that hold.
"""

from __future__ import annotations

import math

import numpy as np

from recommender.churn.features import COLUMN

#: Usage must fall by at least this share (last 90 days vs the 90 before) to be a driver.
USAGE_DROP = 0.25


def _value(row: np.ndarray, name: str) -> float:
    return float(row[COLUMN[name]])


def drivers(row: np.ndarray) -> list[str]:
    """The drivers of one client's risk (``row``: its feature vector)."""
    out: list[str] = []
    services = _value(row, "services")
    if not math.isnan(services) and services <= 1:
        out.append("one active service" if services == 1 else "no active service")
    change = _value(row, "usage_change")
    if not math.isnan(change) and change <= -USAGE_DROP:
        out.append(f"usage down {round(-change * 100)} % over 90 days")
    if _value(row, "completions_365") == 0:
        out.append("no course in 12 months")
    if _value(row, "downgrades_365") > 0:
        out.append("downgraded a tariff in the last 12 months")
    if _value(row, "cancels_365") > 0:
        out.append("cancelled a service in the last 12 months")
    since_view = _value(row, "days_since_view")
    if math.isnan(since_view) or since_view > 180:
        out.append("no offer viewed in 6 months")
    tenure = _value(row, "tenure_days")
    if not math.isnan(tenure) and tenure < 365:
        out.append("client for less than a year")
    return out
