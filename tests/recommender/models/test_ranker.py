"""The second-stage ranker: the model contract, one feature code path, serving and its bundle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.models import build_model
from recommender.models.ease import ease_weights
from recommender.models.ranker import ROUNDS_TOLERANCE, RankerModel
from recommender.ranker_features import (
    AFFINITY_ARRAY,
    AFFINITY_MIN_CLIENTS,
    AFFINITY_SMOOTHING,
    LOG_POPULARITY_ARRAY,
    RANK,
    TREE_PREFIX,
    RankerParts,
    RankerSpec,
    affinity_table,
    candidate_rows,
    infer_spec,
    log_popularity,
    tie_order,
    training_rows,
)
from recommender.ranking import ClientBlock, RankingPolicy
from recommender.schema import validate_table
from recommender.scoring import FEATURES, OWNED_OFFERS, POPULARITY, scorer_for
from recommender.servable import ArtifactError, ServableModel
from recommender.trees import TreeEnsemble
from tests.recommender.models.contract import ModelContract

FAST = {"l2": 1.0, "dropout": 0.5, "n_rounds": 20, "min_child_samples": 5}
#: Rounds chosen on validation, as by default (still fast on these small data sets).
SMALL = {"l2": 1.0, "dropout": 0.5, "min_child_samples": 5}


class TestRanker(ModelContract):
    model_name = "ranker"
    config: ClassVar = FAST


# ------------------------------------------------------------------------------ data sets
def industry_dataset(
    n_clients: int = 1500, noise_only: bool = False, seed: int = 0, told_by: str = "industry"
) -> Dataset:
    """``industry_frames`` as a data set."""
    events, clients = industry_frames(n_clients, noise_only, seed, told_by)
    return Dataset.from_frames(events, clients)


def industry_frames(
    n_clients: int = 1500, noise_only: bool = False, seed: int = 0, told_by: str = "industry"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four common offers (each owned with p 0.25) and, for 90 % of the clients, one of their
    industry's three offers (0.8 / 0.15 / 0.05).

    Which industry offer a client owns, or misses, is not in its common offers: only its
    industry tells. With ``noise_only`` the industry column is shuffled, so it carries nothing.
    ``told_by`` names the column that tells instead (the industry column is then constant):
    ``occupation``, 80 codes (more than the ranker's 64 categories; code n belongs to "bank"
    when n is even), ``signup_date`` (banks signed up in 2015, schools in 2023), or
    ``join_date``: the same dates in an extra column as a Russian CRM writes them (31.12.2015).
    """
    rng = np.random.default_rng(seed)
    industries = rng.choice(["bank", "school"], size=n_clients)
    events = []
    for n, industry in enumerate(industries):
        client = f"c{n}"
        events.extend((client, f"common{c}") for c in np.flatnonzero(rng.random(4) < 0.25))
        if rng.random() < 0.9:
            events.append((client, f"{industry}{rng.choice(3, p=[0.8, 0.15, 0.05])}"))
    if noise_only:
        industries = rng.permutation(industries)
    clients = pd.DataFrame(
        {
            "client_id": [f"c{n}" for n in range(n_clients)],
            "industry": industries,
            "size": rng.integers(1, 100, n_clients).astype(str),
        }
    )
    if told_by == "occupation":
        codes = 2 * rng.integers(0, 40, n_clients) + (industries == "school")
        clients["occupation"] = [f"occ{c:03d}" for c in codes]
    elif told_by in ("signup_date", "join_date"):
        years = np.where(industries == "bank", 2015, 2023)
        days = rng.integers(0, 365, n_clients)
        stamps = pd.to_datetime([f"{y}-01-01" for y in years], utc=True) + pd.to_timedelta(
            days, unit="D"
        )
        clients[told_by] = stamps if told_by == "signup_date" else stamps.strftime("%d.%m.%Y")
    if told_by != "industry":
        clients["industry"] = "any"
    return pd.DataFrame(events, columns=["client_id", "item_id"]), clients


def hide_one(dataset: Dataset, seed: int = 0) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """Train data without one owned offer of every client owning two or more; the clients
    and the hidden offers."""
    rng = np.random.default_rng(seed)
    events = dataset.events
    keep = np.ones(len(events), dtype=bool)
    clients, hidden = [], []
    for client, rows in events.groupby("client_idx").indices.items():
        if len(rows) < 2:
            continue
        pick = rows[rng.integers(len(rows))]
        keep[pick] = False
        clients.append(int(client))
        hidden.append(int(events["item_idx"].iat[pick]))
    return dataset.with_events(events[keep]), np.array(clients), np.array(hidden)


def hit_rate(model_name: str, config: dict[str, object], dataset: Dataset) -> float:
    train, clients, hidden = hide_one(dataset)
    model = build_model(model_name, config).fit(train)
    top = RankingPolicy(1).rank(model.ranking_model(), ClientBlock.from_dataset(train, clients))
    return float((top.items[:, 0] == hidden).mean())


@pytest.fixture(scope="module")
def industry() -> Dataset:
    return industry_dataset()


@pytest.fixture(scope="module")
def fitted(industry: Dataset) -> RankerModel:
    model = build_model("ranker", {**FAST, "use_client_features": True}).fit(industry)
    assert isinstance(model, RankerModel)
    return model


# ------------------------------------------------------------------------------ feature spec
def test_infer_spec_sorts_columns_into_numeric_categorical_and_dropped() -> None:
    columns = {
        "region": ["north", "south", None, "north"],
        "age": ["31", "45.5", None, "60"],
        "manager": [f"m{n}" for n in range(4)],  # more values than max_categories
        "empty": [None, None, None, None],
    }
    spec = infer_spec(list(columns), columns.__getitem__, 5, 3, max_categories=3)
    assert spec.categorical == (("region", ("north", "south")),)
    assert spec.numeric == ("age",)
    assert spec.portfolio_bits
    assert spec.n_features == 5 + 5 + 2
    assert spec.categorical_features() == [0, 10]
    assert spec.feature_names()[-2:] == ["client.region", "client.age"]


def test_a_text_column_over_max_categories_keeps_its_frequent_values() -> None:
    occupation = ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["d", "e"]
    columns = {"occupation": occupation, "client_number": [f"n{n}" for n in range(11)]}
    spec = infer_spec(list(columns), columns.__getitem__, 5, 3, max_categories=3)
    assert spec.categorical == (("occupation", ("a", "b", "c")),)  # the id-like column: out
    encoded = spec.encode_attributes(columns.__getitem__, 11)
    np.testing.assert_array_equal(encoded[[0, 4, 7], 0], [0.0, 1.0, 2.0])
    assert np.isnan(encoded[9:, 0]).all()  # rare values read as missing


def test_dates_are_days_since_1970_offline_and_online_alike() -> None:
    """Offline a signup date is a timestamp's text, online the profile's ISO date."""
    columns = {
        "signup_date": ["2020-01-02 00:00:00+00:00", "2020-01-02", None, "1970-01-01"],
        "mixed": ["2020-01-02", "soon", None, None],
    }
    spec = infer_spec(list(columns), columns.__getitem__, 5, 3)
    assert spec.dates == ("signup_date",)
    assert spec.categorical == (("mixed", ("2020-01-02", "soon")),)
    assert spec.feature_names()[-1] == "client.signup_date"
    encoded = spec.encode_attributes(columns.__getitem__, 4)
    np.testing.assert_array_equal(encoded[[0, 1, 3], 1], [18263.0, 18263.0, 0.0])
    assert np.isnan(encoded[2, 1])


def test_unknown_and_missing_attributes_are_nan() -> None:
    spec = RankerSpec(4, True, (("region", ("north", "south")),), ("age",), 3)
    values = {"region": ["south", "west", None], "age": ["7", "old", None]}
    encoded = spec.encode_attributes(lambda name: values.get(name, [None] * 3), 3)
    np.testing.assert_array_equal(encoded[0], [1.0, 7.0])
    assert np.isnan(encoded[1:]).all()


def test_spec_survives_metadata_and_names_a_bad_key() -> None:
    spec = RankerSpec(4, False, (("region", ("a", "b")),), ("age",), 3, prior=(-1.0, -0.5))
    assert RankerSpec.from_metadata(spec.to_metadata()) == spec
    dated = replace(spec, dates=("signup_date",))
    assert RankerSpec.from_metadata(dated.to_metadata()) == dated
    older = spec.to_metadata()
    del older["dates"], older["affinity"]  # bundles saved before them load as they were
    assert RankerSpec.from_metadata(older) == spec
    with_affinity = replace(spec, affinity=1)
    assert RankerSpec.from_metadata(with_affinity.to_metadata()) == with_affinity
    assert with_affinity.feature_names()[-1] == "affinity.region"
    assert with_affinity.n_features == spec.n_features + 1
    broken = spec.to_metadata()
    del broken["numeric"]
    with pytest.raises(ValueError, match="'numeric'"):
        RankerSpec.from_metadata(broken)


# ------------------------------------------------------------------------------ one code path
def test_training_rows_are_the_rows_serving_builds(industry: Dataset) -> None:
    """Every training group is the serving window of its context (portfolio minus the
    positive), row for row, at the ranks the rows say."""
    columns = [str(c) for c in industry.clients.columns]
    block = ClientBlock.from_dataset(industry, np.arange(100))
    spec = infer_spec(columns, block.column, industry.n_items, candidates=4)
    attributes = spec.encode_attributes(block.column, len(block))
    assert spec.n_affinities == len(spec.categorical) > 0
    affinity = affinity_table(spec, attributes, industry.interactions[:100])
    weights = ease_weights(industry.interactions, 5.0, 0.5)
    pop = log_popularity(industry.interactions)
    window = np.empty((spec.candidates, spec.n_features), dtype=np.float32)
    order = np.empty(industry.n_items, dtype=np.int64)
    seen = 0
    for client in range(len(block)):
        owned = block.owned(client)
        features, labels, groups = training_rows(
            spec, weights, pop, np.array([0, len(owned)]), owned, attributes[client : client + 1],
            max_contexts=5, n_negatives=None, seed=0, affinity=affinity,
        )  # fmt: skip
        assert groups.sum() == len(labels) == len(features)
        start = 0
        for size in groups:
            rows = slice(start, start + size)
            start += size
            assert labels[rows].sum() == 1
            positive = int(features[rows][labels[rows] == 1][0, 0])
            context = np.setdiff1d(owned, [positive])
            candidate_rows(
                weights, np.array([0, len(context)]), context, 0, attributes[client], affinity,
                spec.affinity_offsets(), pop, tie_order(pop), spec.portfolio_bits, window, order,
            )  # fmt: skip
            ranks = features[rows][:, RANK].astype(np.int64)
            assert (np.diff(ranks) > 0).all(), "rows come in first-stage order"
            np.testing.assert_array_equal(features[rows], window[ranks])
            seen += 1
    assert seen > 40


def test_without_trees_the_ranker_orders_as_its_first_stage(fitted: RankerModel) -> None:
    """The prior alone (single-leaf trees) gives the first stage's order: trees correct it."""
    parts = fitted._parts
    leaf = {"tree_structure": {"leaf_value": 0.25}}
    flat = TreeEnsemble.from_dump(
        {"max_feature_idx": parts.spec.n_features - 1, "tree_info": [leaf]}
    )
    bare = RankerParts(parts.spec, parts.item_item, flat, parts.log_popularity, parts.affinity)
    block = ClientBlock.from_dataset(fitted._dataset, np.arange(30))  # type: ignore[arg-type]
    out = np.zeros((len(block), parts.spec.n_items), dtype=np.float32)
    attributes = parts.spec.encode_attributes(block.column, len(block))
    bare.score_block(
        block.owned_indptr, block.owned_indices, np.arange(len(block)), attributes, out
    )
    for row in range(len(block)):
        owned = block.owned(row)
        first = parts.item_item[owned].sum(axis=0)
        free = np.setdiff1d(np.arange(parts.spec.n_items), owned)
        expected = free[np.lexsort((np.argsort(parts.tie_order)[free], -first[free]))]
        np.testing.assert_array_equal(free[np.argsort(-out[row, free], kind="stable")], expected)
        if len(owned):
            assert out[row, owned].max() < out[row, free].min(), "owned offers come last"


def test_columns_whose_values_contrast_groups_come_first_with_an_affinity_each() -> None:
    m = AFFINITY_MIN_CLIENTS
    columns = {
        "tier": ["gold"] * (2 * m),  # one value: nothing to contrast
        "region": ["north"] * m + ["south"] * (m - 1) + [None],  # one value held by m
        "industry": ["bank"] * m + ["school"] * m,
    }
    spec = infer_spec(list(columns), columns.__getitem__, 5, 3)
    assert [name for name, _ in spec.categorical] == ["industry", "tier", "region"]
    assert spec.n_affinities == 1
    assert spec.feature_names()[-1] == "affinity.industry"
    assert spec.n_features == 5 + 5 + 3 + 1
    assert infer_spec(list(columns), columns.__getitem__, 5, 3, affinity=False).n_affinities == 0


def test_affinity_is_the_smoothed_log_lift_of_each_value() -> None:
    """Per value, the offers its clients own more (> 0) or less (< 0) than all clients; a value
    fewer than AFFINITY_MIN_CLIENTS hold has none (its clients' own offers would be it)."""
    m = AFFINITY_MIN_CLIENTS
    spec = RankerSpec(2, True, (("industry", ("bank", "farm", "school")),), (), 2, affinity=1)
    codes = np.array([0.0] * m + [1.0] * (m - 1) + [2.0] * m + [np.nan], dtype=np.float32)
    owns = np.zeros((len(codes), 2))
    owns[: m // 2, 0] = 1  # half the banks own offer 0
    owns[2 * m - 1 :, 1] = 1  # every school (and the unknown client) owns offer 1
    owns[m : 2 * m - 1, 0] = 1  # every farm owns offer 0
    table = affinity_table(spec, codes[:, None], sp.csr_matrix(owns))
    share = (owns.sum(axis=0) + 1.0) / (len(codes) + 2.0)
    a = AFFINITY_SMOOTHING
    banks = (np.array([m // 2, 0.0]) + a * share) / (m + a)
    schools = (np.array([0.0, m]) + a * share) / (m + a)
    np.testing.assert_allclose(table[0], np.log(banks / share), rtol=1e-5)
    np.testing.assert_allclose(table[2], np.log(schools / share), rtol=1e-5)
    assert np.isnan(table[1]).all(), "farms are too few"
    assert table[2, 1] > 0 > table[2, 0]


def test_affinity_columns_are_read_for_training_and_serving_alike(fitted: RankerModel) -> None:
    """The bundle carries the table computed on the training clients, and a served row's
    affinity column is that table's entry for the client's value and the offer."""
    parts = fitted._parts
    assert parts.spec.n_affinities >= 1 and parts.affinity is not None
    data = fitted._dataset
    assert data is not None
    block = ClientBlock.from_dataset(data, np.arange(data.n_clients))
    attributes = parts.spec.encode_attributes(block.column, len(block))
    np.testing.assert_allclose(
        parts.affinity, affinity_table(parts.spec, attributes, data.interactions), rtol=1e-6
    )
    window = np.empty((parts.spec.candidates, parts.spec.n_features), dtype=np.float32)
    order = np.empty(parts.spec.n_items, dtype=np.int64)
    owned = block.owned(3)
    n = candidate_rows(
        parts.item_item, np.array([0, len(owned)]), owned, 0, attributes[3], parts.affinity,
        parts.spec.affinity_offsets(), parts.log_popularity, parts.tie_order,
        parts.spec.portfolio_bits, window, order,
    )  # fmt: skip
    code = int(attributes[3, 0])
    rows = window[: min(n, parts.spec.candidates)]
    np.testing.assert_array_equal(
        rows[:, -parts.spec.n_affinities], parts.affinity[code, rows[:, 0].astype(np.int64)]
    )


def test_the_first_stage_is_eases_served_weights(industry: Dataset) -> None:
    """Given EASE's fields, the ranker serves EASE's item-item matrix, low-rank part and
    client weighting included."""
    first = {
        "l2": 5.0,
        "dropout": 0.5,
        "client_weighting": 0.5,
        "low_rank": 2,
        "low_rank_weight": 0.7,
    }
    ranker = build_model("ranker", {**first, "n_rounds": 2}).fit(industry)
    ease = build_model("ease", {**first, "pairs": False}).fit(industry)
    served = ease.export().item_item
    assert served is not None
    np.testing.assert_allclose(ranker.export().item_item, served, rtol=1e-5, atol=1e-6)
    plain = ease_weights(industry.interactions, 5.0, 0.5)
    assert not np.allclose(served, plain, atol=1e-3)


# ------------------------------------------------------------------------------ serving
def test_a_block_scores_each_client_as_it_would_alone(fitted: RankerModel) -> None:
    """Known, unknown-with-portfolio, attributes-only and bare clients: row == alone."""
    scorer = fitted.ranking_model().scorer
    owned = [
        np.array([0, 3]),
        np.array([1]),
        np.array([], dtype=np.int64),
        np.array([], dtype=np.int64),
    ]
    counts = [len(o) for o in owned]
    block = ClientBlock(
        ("a", "b", "c", "d"),
        np.array([0, -1, -1, -1], dtype=np.int64),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(owned).astype(np.int64),
        {"industry": ["bank", None, "school", None], "size": ["5", "50", None, None]},
    )
    together = scorer.score(block)
    assert together.sources.tolist() == [OWNED_OFFERS, OWNED_OFFERS, FEATURES, POPULARITY]
    for row in range(4):
        alone = scorer.score(block.slice(row, row + 1))
        np.testing.assert_array_equal(together.scores[row], alone.scores[0])
        assert together.sources[row] == alone.sources[0]
    np.testing.assert_array_equal(together.scores[3], scorer.popularity_scores(("all",)))


def test_only_the_candidates_get_tree_scores(industry: Dataset) -> None:
    model = build_model("ranker", {**FAST, "candidates": 3, "use_client_features": False})
    scorer = model.fit(industry).ranking_model().scorer
    block = ClientBlock.from_dataset(industry, np.arange(5))
    scores = scorer.score(block).scores
    for row in range(len(block)):
        free = np.setdiff1d(np.arange(industry.n_items), block.owned(row))
        ranked = free[np.argsort(-scores[row, free], kind="stable")]
        gap = scores[row, ranked[2]] - scores[row, ranked[3]]
        assert gap > 0.99, "the rest sit at least 1 below the lowest candidate"


def test_client_features_are_chosen_when_they_matter(industry: Dataset) -> None:
    ranker = build_model("ranker", SMALL).fit(industry)
    validation = ranker.export().metadata["ranker_validation"]
    assert ranker.config.use_client_features is True  # type: ignore[attr-defined]
    assert validation["client_features_z"] > 2
    ease = {"l2": 1.0, "dropout": 0.5, "pairs": False, "low_rank": 0}  # the ranker's first stage
    assert hit_rate("ranker", SMALL, industry) > hit_rate("ease", ease, industry) + 0.15


@pytest.mark.parametrize("told_by", ["occupation", "signup_date", "join_date"])
def test_high_cardinality_codes_and_tenure_are_learned(told_by: str) -> None:
    """An 80-value occupation code, a signup date, and a join date in a CRM's local format
    (read through the import's validation, as ``recsys data import`` does) tell what the client
    misses."""
    events, clients = industry_frames(told_by=told_by)
    data = Dataset.from_frames(events, validate_table(clients.astype(str), "clients"))
    ranker = build_model("ranker", SMALL).fit(data)
    assert ranker.config.use_client_features is True  # type: ignore[attr-defined]
    dates = ranker.export().metadata["ranker"]["dates"]
    assert dates == ([] if told_by == "occupation" else [told_by])
    ease = {"l2": 1.0, "dropout": 0.5, "pairs": False, "low_rank": 0}
    assert hit_rate("ranker", SMALL, data) > hit_rate("ease", ease, data) + 0.1


def test_serving_cost_caps_the_trees(industry: Dataset) -> None:
    """candidates x trees stays within max_tree_walks, with and without validation."""
    for config in (FAST, SMALL):
        capped = {**config, "candidates": 5, "max_tree_walks": 20, "use_client_features": False}
        model = build_model("ranker", capped).fit(industry)
        ensemble = model.ranking_model().scorer.parts.ensemble  # type: ignore[attr-defined]
        assert 1 <= ensemble.n_trees <= 20 // 5


def test_rounds_are_the_most_near_the_best_validation_score(industry: Dataset) -> None:
    ranker = build_model("ranker", {**SMALL, "use_client_features": True}).fit(industry)
    validation = ranker.export().metadata["ranker_validation"]
    n_trees = ranker.ranking_model().scorer.parts.ensemble.n_trees  # type: ignore[attr-defined]
    assert n_trees == validation["rounds"] >= validation["best_rounds"]
    kept, best = validation["rounds_ndcg_at_5"], validation["best_ndcg_at_5"]
    assert best - ROUNDS_TOLERANCE <= kept <= best


def test_client_features_that_carry_nothing_are_left_out() -> None:
    noise = industry_dataset(noise_only=True)
    ranker = build_model("ranker", SMALL).fit(noise)
    assert ranker.config.use_client_features is False  # type: ignore[attr-defined]
    assert ranker.export().metadata["ranker"]["categorical"] == []
    ease = {"l2": 1.0, "dropout": 0.5, "pairs": False, "low_rank": 0}
    assert hit_rate("ranker", SMALL, noise) >= hit_rate("ease", ease, noise) - 0.02


# ------------------------------------------------------------------------------ the bundle
def _saved(fitted: RankerModel, tmp_path: Path) -> dict[str, np.ndarray]:
    fitted.export().save(tmp_path / "ok")
    with np.load(tmp_path / "ok" / "arrays.npz") as npz:
        return {key: npz[key] for key in npz.files}


def test_bundle_round_trips_the_ranker_arrays(fitted: RankerModel, tmp_path: Path) -> None:
    servable = fitted.export()
    loaded = ServableModel.load(servable.save(tmp_path / "bundle"))
    assert loaded.mode == "ranker" and loaded.ranker_arrays is not None
    assert servable.ranker_arrays is not None
    assert sorted(loaded.ranker_arrays) == sorted(servable.ranker_arrays)
    for name, array in servable.ranker_arrays.items():
        np.testing.assert_array_equal(loaded.ranker_arrays[name], array)
    assert "ranker.tree.leaf_value" in _saved(fitted, tmp_path)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda a, m: a.pop(TREE_PREFIX + "leaf_value"), "tree.leaf_value"),
        (
            lambda a, m: a.update({LOG_POPULARITY_ARRAY: np.zeros(2, np.float32)}),
            LOG_POPULARITY_ARRAY,
        ),
        (lambda a, m: a.update({TREE_PREFIX + "n_features": np.array(10_000)}), "tree.n_features"),
        (lambda a, m: a.pop(AFFINITY_ARRAY), AFFINITY_ARRAY),
        (lambda a, m: m.pop("ranker"), "metadata['ranker']"),
        (lambda a, m: m["ranker"].update({"n_items": 3}), "'n_items'"),
    ],
)
def test_a_broken_bundle_names_what_is_wrong(fitted: RankerModel, change, named: str) -> None:  # type: ignore[no-untyped-def]
    servable = fitted.export()
    assert servable.ranker_arrays is not None
    arrays = dict(servable.ranker_arrays)
    metadata = {**servable.metadata, "ranker": dict(servable.metadata["ranker"])}
    change(arrays, metadata)
    with pytest.raises(ArtifactError, match=named.replace("[", r"\[").replace("]", r"\]")):
        replace(servable, ranker_arrays=arrays, metadata=metadata).validate()


def test_a_bundle_without_trees_is_refused_by_the_scorer(fitted: RankerModel) -> None:
    servable = replace(fitted.export(), ranker_arrays=None)
    with pytest.raises(ValueError, match="ranker_arrays"):
        scorer_for(servable)
