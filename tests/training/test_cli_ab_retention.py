"""``recsys ab report`` reports retention per variant from the offline store: the snapshot's
subscriptions (before the experiment) and the flushed events (impressions, cancellations)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from tests.recommender.experiments.simulate import START, ab_events
from training.cli.main import app


def test_report_has_retention_per_variant(tmp_path: Path) -> None:
    events = ab_events([1500, 1500], (0.1, 0.1), seed=7)
    shown = (
        events[events["event_type"] == "impression"]
        .groupby("client_id")
        .agg(variant=("variant", "first"), first=("timestamp", "min"))
    )
    # every client subscribed a year before; every 4th control and 10th treatment client leaves
    clients = shown.index.to_series()
    number = clients.str[1:].astype(int)
    leaves = ((shown["variant"] == "control") & (number % 4 == 0)) | (
        (shown["variant"] == "treatment") & (number % 10 == 0)
    )
    subscriptions = pd.DataFrame(
        {
            "client_id": clients.to_numpy(),
            "item_id": "t1",
            "event_type": "subscription_start",
            "timestamp": START - pd.Timedelta(days=365),
            "event_id": [f"s{n}" for n in range(len(clients))],
        }
    )
    cancels = pd.DataFrame(
        {
            "client_id": clients[leaves].to_numpy(),
            "item_id": "t1",
            "event_type": "cancellation",
            "timestamp": (shown.loc[leaves, "first"] + pd.Timedelta(days=2)).to_numpy(),
        }
    )
    items = pd.DataFrame({"item_id": ["t1", "i01"], "kind": ["tariff", "addon"]})
    store = OfflineStore(tmp_path)
    store.write_snapshot({"interactions": subscriptions, "items": items})
    flushed = pd.concat([events.assign(item_id="i01"), cancels], ignore_index=True)
    flushed["event_id"] = [f"e{i}" for i in range(len(flushed))]
    store.append_events(flushed)

    result = CliRunner().invoke(
        app, ["ab", "report", "exp", "--data-dir", str(tmp_path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout)).set_index("variant")
    for variant, share in (("control", 0.25), ("treatment", 0.10)):
        row = table.loc[variant]
        assert row["at_risk_clients"] == row["clients"]
        expected = int((leaves & (shown["variant"] == variant)).sum())
        assert row["churned"] == expected
        assert abs(row["churn_rate"] - share) < 0.01
        assert row["retention"] == 1 - row["churn_rate"]
    table_output = CliRunner().invoke(app, ["ab", "report", "exp", "--data-dir", str(tmp_path)])
    assert "retention" in table_output.output
