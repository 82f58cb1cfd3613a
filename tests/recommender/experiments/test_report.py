"""The A/B report on simulated event logs with known conversion rates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from recommender.experiments.config import Experiment
from recommender.experiments.render import plot_uplift, uplift_table, variants_table
from recommender.experiments.report import build_report
from tests.recommender.experiments.conftest import experiment_data
from tests.recommender.experiments.simulate import START, ab_events

RATES = (0.10, 0.13)


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return ab_events([6000, 6000], RATES, seed=1)


def _direct_conversion(events: pd.DataFrame, variant: str) -> float:
    shown = events.loc[(events["event_type"] == "impression") & (events["variant"] == variant)]
    clients = shown["client_id"].unique()
    bought = events.loc[events["event_type"] == "purchase", "client_id"]
    return float(np.isin(clients, bought).mean())


def test_figures_match_the_log_and_cover_the_true_uplift(events: pd.DataFrame) -> None:
    report = build_report(events, "exp")
    assert report.control == "control"
    rows = {r.variant: r for r in report.variants}
    for name in ("control", "treatment"):
        shown = events.loc[(events["event_type"] == "impression") & (events["variant"] == name)]
        assert rows[name].exposures == len(shown)
        assert rows[name].clients == shown["client_id"].nunique()
        assert rows[name].conversion == pytest.approx(_direct_conversion(events, name))
    conversion = next(u for u in report.uplifts if u.metric == "conversion")
    assert conversion.absolute_low <= RATES[1] - RATES[0] <= conversion.absolute_high
    assert conversion.relative_low <= RATES[1] / RATES[0] - 1 <= conversion.relative_high
    assert conversion.significant
    assert conversion.sequential_p_value >= conversion.p_value
    assert not report.srm.flagged
    assert report.looks >= 14


def test_srm_is_flagged_on_a_skewed_split() -> None:
    skewed = ab_events([6000, 5400], (0.1, 0.1), seed=2)
    definition = Experiment.model_validate(
        experiment_data(
            name="exp",
            variants=[
                {"name": "control", "target": "champion"},
                {"name": "treatment", "target": "2"},
            ],
        )
    )
    report = build_report(skewed, definition)
    assert report.srm.flagged
    assert not report.srm.weights_assumed_equal
    assert any("sample ratio mismatch" in w for w in report.warnings)
    fair = build_report(ab_events([6000, 5950], (0.1, 0.1), seed=2), definition)
    assert not fair.srm.flagged


def test_purchases_before_exposure_and_mixed_clients_are_left_out(events: pd.DataFrame) -> None:
    first = events.loc[events["event_type"] == "impression"].iloc[0]
    extra = pd.DataFrame(
        {
            "event_type": ["purchase", "impression"],
            "client_id": ["early-bird", first["client_id"]],
            "timestamp": [START - pd.Timedelta(days=1), first["timestamp"] + pd.Timedelta(hours=1)],
            "value": [999.0, 1.0],
            "experiment": [None, "exp"],
            "variant": [None, "treatment" if first["variant"] == "control" else "control"],
        }
    )
    early = pd.DataFrame(
        {
            "event_type": ["purchase", "impression"],
            "client_id": ["early-bird", "early-bird"],
            "timestamp": [START, START + pd.Timedelta(days=1)],
            "value": [999.0, 1.0],
            "experiment": [None, "exp"],
            "variant": [None, "control"],
        }
    )
    report = build_report(pd.concat([events, extra, early], ignore_index=True), "exp")
    base = build_report(events, "exp")
    assert report.mixed_clients == 1
    control = {r.variant: r for r in report.variants}["control"]
    base_control = {r.variant: r for r in base.variants}["control"]
    bought = events.loc[events["event_type"] == "purchase", "client_id"]
    mixed_converted = first["variant"] == "control" and first["client_id"] in set(bought)
    # early-bird joins control, but its purchase came before its exposure.
    assert control.clients == base_control.clients + 1 - (first["variant"] == "control")
    assert control.conversions == base_control.conversions - mixed_converted


def test_outputs_json_table_and_png(events: pd.DataFrame, tmp_path: Path) -> None:
    report = build_report(events, "exp")
    data = json.loads(report.to_json())
    assert data["experiment"] == "exp"
    assert {u["metric"] for u in data["uplifts"]} == {"conversion", "revenue_per_client"}
    console = Console(record=True, width=200)
    console.print(variants_table(report))
    console.print(uplift_table(report))
    text = console.export_text()
    assert "treatment" in text
    assert "mSPRT" in text
    png = plot_uplift(report, tmp_path / "charts" / "uplift.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clear_errors(events: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no impressions"):
        build_report(events, "other")
    with pytest.raises(ValueError, match="variant"):
        build_report(events.drop(columns="variant"), "exp")
    with pytest.raises(ValueError, match="control 'nope'"):
        build_report(events, "exp", control="nope")


def test_plain_clicks_count_by_request_id_or_exposure(events: pd.DataFrame) -> None:
    """The cabinet posts a click with the answer's request id only (no experiment, variant)."""
    tagged = build_report(events, "exp")
    plain = events.copy()
    impressions = plain["event_type"] == "impression"
    plain.loc[impressions, "request_id"] = [f"req-{n}" for n in range(int(impressions.sum()))]
    clicks = plain.index[plain["event_type"] == "click"]
    first_request = plain.loc[impressions].groupby("client_id")["request_id"].first()
    plain.loc[clicks, "request_id"] = plain.loc[clicks, "client_id"].map(first_request).to_numpy()
    plain.loc[clicks, ["experiment", "variant"]] = None
    # a click before any exposure, from a request the experiment never answered: not counted
    early = {"event_type": "click", "client_id": plain["client_id"].iat[0], "value": 1.0,
             "timestamp": START - pd.Timedelta(days=1), "experiment": None, "variant": None,
             "request_id": "elsewhere"}  # fmt: skip
    plain = pd.concat([plain, pd.DataFrame([early])], ignore_index=True)
    report = build_report(plain, "exp")
    want = {r.variant: r.clicks for r in tagged.variants}
    got = {r.variant: r.clicks for r in report.variants}
    assert got == want and sum(got.values()) > 0
    assert all(r.click_through > 0 for r in report.variants)
