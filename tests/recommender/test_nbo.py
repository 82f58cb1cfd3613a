"""Batch next-best offers equal the one-client path (scores, rules, probability proxy)."""

from __future__ import annotations

import io
import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import DEFAULT_CLIENT_FEATURES, Dataset
from recommender.feedback import owned_pairs
from recommender.models.base import fallback_rows
from recommender.models.registry import build_model
from recommender.nbo import Portfolio, compute_nbo
from recommender.nbo_table import nbo_frame, write_table
from recommender.ranking.fast import rank_scores
from recommender.ranking.rules import RankingRules
from recommender.scoring import Scorer
from recommender.servable import ServableModel
from recommender.synthetic.generator import SyntheticConfig, SyntheticData, generate


@cache
def _data() -> SyntheticData:
    return generate(SyntheticConfig(n_clients=160, seed=5))


@cache
def _model(name: str) -> ServableModel:
    data = _data()
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    params = {"factors": 8, "iterations": 4, "seed": 1} if name == "als" else {}
    return build_model(name, params).fit(dataset).export()


def _portfolio(model: ServableModel) -> Portfolio:
    data = _data()
    clients = data.clients.copy()
    # two clients the model never saw, one owning nothing (popularity), one owning offers
    extra = clients.iloc[:2].assign(client_id=["new-empty", "new-owner"])
    clients = pd.concat([clients, extra], ignore_index=True)
    owned = owned_pairs(data.interactions)
    first = owned[owned["client_id"] == data.clients["client_id"].iat[0]]
    owned = pd.concat([owned, first.assign(client_id="new-owner")], ignore_index=True)
    owned.loc[len(owned)] = ["c000001", "no-such-offer"]  # unknown offers are skipped
    return Portfolio.from_frames(clients, owned, model.item_ids)


def _reference(model: ServableModel, data: Portfolio, i: int, rules: RankingRules) -> tuple:
    """The one-client path: Scorer.scores, rank_scores, z-score logistic (as serving does)."""
    scorer = Scorer(model)
    row = data.clients.iloc[i]
    ids = {str(c): n for n, c in enumerate(model.client_ids)}
    attrs = {c: row.get(c) for c in DEFAULT_CLIENT_FEATURES}
    features = tuple(f"{c}={v}" for c, v in attrs.items() if isinstance(v, str) and v)
    owned = data.owned_of(i)
    rows = fallback_rows(row.get("industry"), row.get("segment"))
    scores = scorer.scores(ids.get(str(row["client_id"])), owned, features, rows)
    top, _ = rank_scores(scores, owned, model.catalog, row.get("segment"), rules)
    z = (scores[top] - scores.mean()) / scores.std() if scores.std() > 0 else np.zeros(len(top))
    return top, 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("name", ["ease", "als", "popularity"])
@pytest.mark.parametrize("kinds", [None, frozenset({"course"})])
def test_batch_equals_single_client_path(name: str, kinds: frozenset[str] | None) -> None:
    model = _model(name)
    data = _portfolio(model)
    rules = RankingRules(k=5, kinds=kinds)
    result = compute_nbo(model, data, rules, explain=False)
    for i in range(len(data)):
        top, probability = _reference(model, data, i, rules)
        got = result.items[i][result.items[i] >= 0]
        assert got.tolist() == top.tolist(), (name, i)
        np.testing.assert_allclose(result.probability[i, : len(got)], probability, atol=2e-3)


def test_expected_value_and_order() -> None:
    model = _model("ease")
    result = compute_nbo(model, _portfolio(model), RankingRules(k=3), explain=False)
    price = model.catalog.price.astype(float) * model.catalog.margin.astype(float)
    i = 7
    items = result.items[i][result.items[i] >= 0]
    expected = float((price[items] * result.probability[i, : len(items)]).sum())
    assert math.isclose(result.expected_value[i], expected, rel_tol=1e-9)
    ordered = result.expected_value[result.order()]
    assert np.all(np.diff(ordered) <= 0)


def test_reasons_name_owned_offers_and_shares() -> None:
    model = _model("ease")
    data = _portfolio(model)
    names = dict(zip(_data().items["item_id"], _data().items["name"], strict=True))
    result = compute_nbo(model, data, RankingRules(k=3), names=names)
    assert result.reasons is not None and len(result.reasons) == len(data)
    flat = [r for client in result.reasons for offer in client for r in offer]
    assert any(r.startswith("often used together with") for r in flat)
    assert any(r.startswith("used by ") for r in flat)
    owned_names = {names[str(model.item_ids[j])] for j in data.owned_of(0)}
    together = [r for offer in result.reasons[0] for r in offer if r.startswith("often")]
    for reason in together:  # it names an offer the client really owns
        assert any(f"with {name}, which you have" in reason for name in owned_names)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_table_round_trips(fmt: str) -> None:
    model = _model("ease")
    data = _portfolio(model)
    result = compute_nbo(model, data, RankingRules(k=2))
    frame = nbo_frame(result, model)
    stream = io.BytesIO()
    write_table(frame, fmt, stream)  # type: ignore[arg-type]
    stream.seek(0)
    back = {
        "csv": lambda: pd.read_csv(stream, dtype={"client_id": str}),
        "xlsx": lambda: pd.read_excel(stream, dtype={"client_id": str}),
        "parquet": lambda: pd.read_parquet(stream),
    }[fmt]()
    assert len(back) == len(data)
    assert list(back["client_id"]) == list(frame["client_id"])
    assert back["expected_value"].is_monotonic_decreasing
    assert set(back.columns) >= {"offer_2_name", "offer_2_reasons", "tier_progress"}


def _awkward_frame() -> pd.DataFrame:
    model = _model("ease")
    frame = nbo_frame(compute_nbo(model, _portfolio(model), RankingRules(k=2)), model)
    frame.loc[0, "offer_1_reasons"] = '=1+1, "quoted"\nline <&>'
    frame.loc[1, "offer_1_name"] = "https://example.com"
    frame.loc[2, "spend"] = 1e20
    return frame


def test_csv_reads_back_as_pandas_would() -> None:
    frame = _awkward_frame()
    stream = io.BytesIO()
    write_table(frame, "csv", stream)
    got = pd.read_csv(io.BytesIO(stream.getvalue()), dtype={"client_id": str})
    want = pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype={"client_id": str})
    pd.testing.assert_frame_equal(got, want)
    assert got["spend"].dtype == np.float64  # whole floats keep their ".0"


def test_xlsx_header_and_text_cells() -> None:
    from openpyxl import load_workbook

    frame = _awkward_frame()
    stream = io.BytesIO()
    write_table(frame, "xlsx", stream)
    sheet = load_workbook(io.BytesIO(stream.getvalue())).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2" and sheet.title == "next-best offers"
    header = [cell.value for cell in sheet[1]]
    assert header == list(frame.columns)
    assert all(cell.font.b for cell in sheet[1])
    column = header.index("offer_1_reasons") + 1
    reasons = sheet.cell(row=2, column=column)
    assert reasons.data_type == "s" and reasons.value == '=1+1, "quoted"\nline <&>'
    assert sheet.cell(row=3, column=header.index("offer_1_name") + 1).value == (
        "https://example.com"
    )
    assert sheet.column_dimensions["B"].width >= len("client_id")
    spend = sheet.cell(row=4, column=header.index("spend") + 1)
    assert spend.value == 1e20 and spend.number_format == "#,##0.00"
    back = pd.read_excel(io.BytesIO(stream.getvalue()), dtype={"client_id": str})
    # empty text cells read back as missing, as they did with openpyxl's writer
    pd.testing.assert_frame_equal(back.fillna(""), frame, check_dtype=False)
