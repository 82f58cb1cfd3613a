"""Next-best-offer exports list exactly what the one-client (cabinet) path returns."""

from __future__ import annotations

import io
import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.feedback import owned_pairs
from recommender.models.registry import build_model
from recommender.nbo import compute_nbo, portfolio_block
from recommender.nbo_table import nbo_frame, write_table
from recommender.phrases import Speaker
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.boosts import MarginBoost, TierProgressBoost
from recommender.synthetic.generator import SyntheticConfig, SyntheticData, generate

POLICY = RankingPolicy(5, 0, (MarginBoost(0.05), TierProgressBoost(0.05)))


@cache
def _data() -> SyntheticData:
    return generate(SyntheticConfig(n_clients=160, seed=5))


@cache
def _model(name: str) -> RankingModel:
    data = _data()
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    params = {"factors": 8, "iterations": 4, "seed": 1} if name == "als" else {}
    return build_model(name, params).fit(dataset).ranking_model()


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = _data()
    clients = data.clients.copy()
    # two clients the model never saw, one owning nothing (popularity), one owning offers
    extra = clients.iloc[:2].assign(client_id=["new-empty", "new-owner"])
    clients = pd.concat([clients, extra], ignore_index=True)
    owned = owned_pairs(data.interactions)
    first = owned[owned["client_id"] == data.clients["client_id"].iat[0]]
    owned = pd.concat([owned, first.assign(client_id="new-owner")], ignore_index=True)
    owned.loc[len(owned)] = ["c000001", "no-such-offer"]  # unknown offers are skipped
    return clients, owned


def _portfolio(model: RankingModel) -> ClientBlock:
    return portfolio_block(*_frames(), model)


@pytest.mark.parametrize("name", ["ease", "als", "popularity"])
@pytest.mark.parametrize("kinds", [None, ("course",)])
def test_export_equals_the_one_client_path(name: str, kinds: tuple[str, ...] | None) -> None:
    """Each exported row is what the cabinet's one-client call returns (ids in, list out)."""
    model = _model(name)
    clients, owned = _frames()
    rules = POLICY.rules(5, kinds)
    result = compute_nbo(model, portfolio_block(clients, owned, model), POLICY, rules)
    for i, row in enumerate(clients.to_dict("records")):
        client_id = str(row["client_id"])
        ids = owned.loc[owned["client_id"] == client_id, "item_id"].astype(str).tolist()
        one = POLICY.rank(model, model.client(client_id, ids, row), rules)
        assert result.ranked.row(i).tolist() == one.row(0).tolist(), (name, i)
        np.testing.assert_array_equal(result.ranked.probability[i], one.probability[0])
        np.testing.assert_array_equal(result.ranked.scores[i], one.scores[0])


def test_expected_value_and_order() -> None:
    model = _model("ease")
    result = compute_nbo(model, _portfolio(model), POLICY, POLICY.rules(3), explain=False)
    i = 7
    items = result.ranked.row(i)
    expected = float((model.value[items] * result.ranked.probability[i, : len(items)]).sum())
    assert math.isclose(result.ranked.expected_value[i], expected, rel_tol=1e-9)
    ordered = result.ranked.expected_value[result.order()]
    assert np.all(np.diff(ordered) <= 0)


def test_reasons_name_owned_offers_and_shares() -> None:
    model = _model("ease")
    data = _portfolio(model)
    names = dict(zip(_data().items["item_id"], _data().items["name"], strict=True))
    english = Speaker("en", "manager")
    result = compute_nbo(model, data, POLICY, POLICY.rules(3), names=names, speaker=english)
    assert result.reasons is not None and len(result.reasons) == len(data)
    flat = [r for client in result.reasons for offer in client for r in offer]
    assert any(r.startswith("often used together with") for r in flat)
    assert any(r.startswith("used by ") for r in flat)
    owned_names = {names[model.item_ids[j]] for j in data.owned(0)}
    together = [r for offer in result.reasons[0] for r in offer if r.startswith("often")]
    for reason in together:  # it names an offer the client really owns
        assert any(f"with {name}, which the client has" in reason for name in owned_names)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_table_round_trips(fmt: str) -> None:
    model = _model("ease")
    data = _portfolio(model)
    result = compute_nbo(model, data, POLICY, POLICY.rules(2))
    frame = nbo_frame(result, model.servable)
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
    frame = nbo_frame(
        compute_nbo(model, _portfolio(model), POLICY, POLICY.rules(2)), model.servable
    )
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
