"""Retention per variant in the A/B report, and experiments that target a churn-risk band."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recommender.experiments.assignment import assign
from recommender.experiments.config import Experiment, Targeting
from recommender.experiments.report import build_report
from recommender.experiments.retention import variant_retention
from tests.recommender.experiments.simulate import START, ab_events

ITEMS = pd.DataFrame({"item_id": ["t1", "t2", "a1"], "kind": ["tariff", "tariff", "addon"]})


def _history(events: pd.DataFrame, churn: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """Every exposed client subscribed to a tariff (and an add-on) a year before; a share of
    each variant (``churn``) cancels its tariff after its first exposure."""
    rng = np.random.default_rng(seed)
    shown = (
        events[events["event_type"] == "impression"]
        .groupby("client_id")
        .agg(variant=("variant", "first"), first=("timestamp", "min"))
    )
    rows = []
    for client_id, record in shown.iterrows():
        before = START - pd.Timedelta(days=365)
        rows.append((client_id, "t1", "subscription_start", before))
        rows.append((client_id, "a1", "purchase", before))
        if rng.random() < churn[record["variant"]]:
            rows.append((client_id, "t1", "cancellation", record["first"] + pd.Timedelta(days=1)))
    return pd.DataFrame(rows, columns=["client_id", "item_id", "event_type", "timestamp"])


def test_retention_per_variant_counts_tariff_churn_in_the_window() -> None:
    events = ab_events([2000, 2000], (0.1, 0.1), seed=4)
    history = _history(events, {"control": 0.30, "treatment": 0.10})
    report = build_report(events, "exp", history=history, items=ITEMS)
    stats = {v.variant: v for v in report.variants}
    assert stats["control"].at_risk_clients == stats["control"].clients
    assert stats["control"].churn_rate == pytest.approx(0.30, abs=0.04)
    assert stats["treatment"].churn_rate == pytest.approx(0.10, abs=0.04)
    assert stats["treatment"].retention == pytest.approx(1 - stats["treatment"].churn_rate)
    # without the catalog the add-on still held means nobody churned (every offer counts)
    kept = {v.variant: v for v in build_report(events, "exp", history=history).variants}
    assert kept["control"].churned == 0


def test_a_tier_move_or_a_later_churn_is_not_churn_in_the_window() -> None:
    first = pd.Timestamp("2025-01-10", tz="UTC")
    clients = pd.DataFrame(
        {"variant": ["a", "a", "b", "b"], "first_seen": [first] * 4},
        index=pd.Index(["moved", "late", "gone", "never"], name="client_id"),
    )
    day = pd.Timedelta(days=1)
    history = pd.DataFrame(
        [
            ("moved", "t1", "subscription_start", first - 100 * day),
            ("moved", "t1", "cancellation", first + day),
            ("moved", "t2", "subscription_start", first + day),  # took another tariff
            ("late", "t1", "subscription_start", first - 100 * day),
            ("late", "t1", "cancellation", first + 60 * day),  # after the window
            ("gone", "t1", "subscription_start", first - 100 * day),
            ("gone", "t1", "cancellation", first + 5 * day),
            ("never", "a1", "purchase", first - 100 * day),  # held no tariff: not at risk
        ],
        columns=["client_id", "item_id", "event_type", "timestamp"],
    )
    table = variant_retention(clients, history, first + 30 * day, ["a", "b"], {"t1", "t2"})
    assert table.loc["a", "at_risk_clients"] == 2 and table.loc["a", "churned"] == 0
    assert table.loc["b", "at_risk_clients"] == 1 and table.loc["b", "churned"] == 1
    assert table.loc["b", "retention"] == 0.0


def test_an_experiment_can_target_a_risk_band() -> None:
    now = datetime.now(UTC)
    experiment = Experiment.model_validate(
        {
            "name": "retention-offers",
            "variants": [
                {"name": "control", "target": "champion"},
                {"name": "treatment", "target": "challenger"},
            ],
            "start": now - timedelta(days=1),
            "targeting": {"risk_bands": ["high", "medium"]},
        }
    )
    assert assign(experiment, "c1", risk_band="high") is not None
    assert assign(experiment, "c1", risk_band="medium") is not None
    assert assign(experiment, "c1", risk_band="low") is None
    assert assign(experiment, "c1") is None  # no band known (no churn model): not admitted
    with pytest.raises(ValidationError):
        Targeting.model_validate({"risk_bands": ["extreme"]})
