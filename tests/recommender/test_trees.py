"""``recommender.trees``: LightGBM models as flat arrays, predicted by a numba kernel."""

import subprocess
import sys
from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import pytest

from recommender.trees import (
    ZERO_THRESHOLD,
    TreeEnsemble,
    predict_raw,
    predict_raw_into,
)

BASE_PARAMS = {
    "objective": "binary",
    "num_threads": 1,
    "verbose": -1,
    "deterministic": True,
    "seed": 7,
}
CATEGORIES = np.array([0, 1, 2, 3, 4, 5, 6, 7, 35, 70], dtype=np.float32)


def _train(
    features: np.ndarray,
    labels: np.ndarray,
    rounds: int,
    categorical: list[int] | None = None,
    init_model: lgb.Booster | None = None,
    **params,
) -> lgb.Booster:
    data = lgb.Dataset(
        features,
        labels,
        categorical_feature=categorical if categorical is not None else "auto",
        free_raw_data=False,
    )
    return lgb.train({**BASE_PARAMS, **params}, data, rounds, init_model=init_model)


def _assert_matches(booster: lgb.Booster, ensemble: TreeEnsemble, features: np.ndarray) -> None:
    ours = predict_raw(ensemble, features)
    theirs = booster.predict(features, raw_score=True, num_threads=1)
    assert ours.dtype == np.float64
    assert ours.shape == (features.shape[0],)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def _with_specials(
    rng: np.random.Generator, features: np.ndarray, specials: np.ndarray, share: float = 0.4
) -> np.ndarray:
    """``features`` with a ``share`` of every column replaced by values from ``specials``."""
    out = features.copy()
    mask = rng.random(out.shape) < share
    out[mask] = rng.choice(specials, int(mask.sum()))
    return np.ascontiguousarray(out, dtype=np.float32)


NUMERIC_SPECIALS = np.array(
    [np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 2e-35, -2e-35, np.inf, -np.inf, 1e30],
    dtype=np.float32,
)
CATEGORY_SPECIALS = np.array(
    # unseen categories, negatives, fractions (truncated toward zero), NaN, past the int range
    [12, 50, 71, 1000, -1, -3, -0.5, -0.999, 0.7, 2.9, 35.5, np.nan, np.inf, -np.inf, 3e9, -3e9],
    dtype=np.float32,
)


@pytest.fixture(scope="module")
def numeric_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[rng.random(n) < 0.15, 0] = np.nan
    x[rng.random(n) < 0.2, 1] = np.nan
    x[rng.random(n) < 0.3, 2] = 0.0
    signal = np.nan_to_num(x[:, 0], nan=1.5) - np.nan_to_num(x[:, 1], nan=-1.0) + x[:, 2] * x[:, 3]
    y = (signal + rng.normal(scale=0.5, size=n) > 0).astype(np.float64)
    return x, y


@pytest.fixture(scope="module")
def categorical_model() -> tuple[lgb.Booster, TreeEnsemble, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 800
    x = rng.normal(size=(n, 3)).astype(np.float32)
    x[:, 0] = rng.choice(CATEGORIES, n)
    x[rng.random(n) < 0.1, 1] = np.nan
    effect = np.zeros(71)
    effect[[1, 3, 35, 70]] = 1.5
    effect[[4, 6]] = -1.0
    signal = effect[x[:, 0].astype(int)] + np.nan_to_num(x[:, 1], nan=1.0) + x[:, 2]
    y = (signal + rng.normal(scale=0.5, size=n) > 0.7).astype(np.float64)
    booster = _train(
        x,
        y,
        25,
        categorical=[0],
        num_leaves=8,
        min_data_per_group=5,
        cat_smooth=1.0,
        max_cat_to_onehot=2,
    )
    return booster, TreeEnsemble.from_booster(booster), x


# -------------------------------------------------------------------------- LightGBM semantics
@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_numerical_features_with_missing_values(numeric_data, zero_as_missing):
    x, y = numeric_data
    booster = _train(x, y, 20, num_leaves=8, zero_as_missing=zero_as_missing)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble.n_trees == 20
    assert np.all(ensemble.decision == 0)
    kinds = set(ensemble.missing_type.tolist())
    # NaN-aware splits by default; zero_as_missing makes them Zero (0 and NaN are missing)
    assert (1 if zero_as_missing else 2) in kinds
    assert ensemble.default_left.any()
    assert (~ensemble.default_left).any()
    _assert_matches(booster, ensemble, x)
    rng = np.random.default_rng(2)
    probe = _with_specials(rng, rng.normal(size=(2000, 4)).astype(np.float32), NUMERIC_SPECIALS)
    _assert_matches(booster, ensemble, probe)


def test_values_within_zero_threshold_count_as_zero():
    """LightGBM drops |x| <= 1e-35f from a dense row: -1e-35f goes where 0 goes, not left of a
    ``-1e-35`` threshold (which a plain ``x <= threshold`` would do)."""
    rng = np.random.default_rng(3)
    x = rng.choice(np.array([-2.0, -1.0, 0.0, 1.0], dtype=np.float32), size=(400, 1))
    y = (x[:, 0] >= 0).astype(np.float64)
    booster = _train(x, y, 2, num_leaves=2, min_data_in_leaf=5)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble.threshold[0] == -ZERO_THRESHOLD
    probe = np.array([[-1e-35], [-2e-35], [-1e-36], [-0.0], [0.0], [1e-35], [np.nan]], np.float32)
    scores = predict_raw(ensemble, probe)
    assert scores[0] == scores[4] != scores[1]
    _assert_matches(booster, ensemble, probe)


def test_categorical_feature(categorical_model):
    booster, ensemble, x = categorical_model
    assert (ensemble.decision == 1).any()
    assert np.all(ensemble.cat_index[ensemble.decision == 0] == -1)
    # categories 35 and 70 make bitsets of more than one 32-bit word
    assert np.diff(ensemble.cat_boundaries).max() > 1
    _assert_matches(booster, ensemble, x)
    rng = np.random.default_rng(4)
    probe = rng.normal(size=(3000, 3)).astype(np.float32)
    probe[:, 0] = rng.choice(CATEGORIES, 3000)
    probe = _with_specials(rng, probe, np.concatenate([CATEGORY_SPECIALS, NUMERIC_SPECIALS]), 0.5)
    _assert_matches(booster, ensemble, probe)


def test_unseen_and_negative_categories_go_right():
    """A stump on category sets: unseen, negative and NaN values take the right child."""
    arrays = _stump_arrays()
    arrays["decision"] = np.array([1], np.int8)
    arrays["cat_index"] = np.array([0], np.int32)
    arrays["threshold"] = np.array([0.0])
    arrays["cat_boundaries"] = np.array([0, 2], np.int64)
    arrays["cat_threshold"] = np.array([0b101, 1 << 3], np.uint32)  # categories {0, 2, 35}
    ensemble = TreeEnsemble.from_arrays(arrays)
    values = [0, 2, 35, 0.9, -0.5, 1, 3, 34, 64, 1e6, -1, np.nan, np.inf, 3e9]
    scores = predict_raw(ensemble, np.array(values, np.float32).reshape(-1, 1))
    expected = [-1.0] * 5 + [1.0] * 9
    np.testing.assert_array_equal(scores, expected)


def test_model_of_single_leaf_trees(numeric_data):
    x, y = numeric_data
    booster = _train(x, y, 5, min_data_in_leaf=10_000)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble.n_nodes == 0
    assert ensemble.n_trees == booster.num_trees() >= 1
    _assert_matches(booster, ensemble, x)
    assert np.all(predict_raw(ensemble, x) == ensemble.leaf_value.sum())


def test_single_leaf_tree_followed_by_split_trees(numeric_data):
    x, y = numeric_data
    first = _train(x, y, 3, min_data_in_leaf=10_000)
    booster = _train(x, y, 6, init_model=first, num_leaves=6)
    ensemble = TreeEnsemble.from_booster(booster)
    node_counts = np.diff(ensemble.tree_node_offset)
    assert node_counts[0] == 0
    assert (node_counts[1:] > 0).all()
    _assert_matches(booster, ensemble, x)


def test_single_leaf_tree_between_split_trees():
    arrays = _stump_arrays()
    stump = TreeEnsemble.from_arrays(arrays)
    # tree 0: stump, tree 1: single leaf 0.25, tree 2: the stump again
    arrays = {
        **arrays,
        **{name: np.concatenate([arrays[name]] * 2) for name in _NODE_NAMES},
        "leaf_value": np.array([-1.0, 1.0, 0.25, -1.0, 1.0]),
        "tree_node_offset": np.array([0, 1, 1, 2], np.int64),
        "tree_leaf_offset": np.array([0, 2, 3, 5], np.int64),
    }
    ensemble = TreeEnsemble.from_arrays(arrays)
    x = np.array([[-1.0], [0.5], [np.nan], [3.0]], np.float32)
    np.testing.assert_array_equal(predict_raw(ensemble, x), 2 * predict_raw(stump, x) + 0.25)


# ---------------------------------------------------------------------------- rows, round trip
def test_rows_are_independent(categorical_model):
    _, ensemble, x = categorical_model
    block = predict_raw(ensemble, x)
    for i in range(0, x.shape[0], 37):
        np.testing.assert_array_equal(predict_raw(ensemble, x[i : i + 1]), block[i : i + 1])
    order = np.random.default_rng(5).permutation(x.shape[0])
    np.testing.assert_array_equal(
        predict_raw(ensemble, np.ascontiguousarray(x[order])), block[order]
    )
    out = np.full(x.shape[0], np.nan)
    predict_raw_into(ensemble, x, out)
    np.testing.assert_array_equal(out, block)
    assert predict_raw(ensemble, x[:0]).shape == (0,)


@pytest.mark.parametrize("prefix", ["", "ranker/"])
def test_arrays_round_trip_through_npz(categorical_model, tmp_path, prefix):
    _, ensemble, x = categorical_model
    arrays = ensemble.to_arrays(prefix)
    assert all(name.startswith(prefix) for name in arrays)
    path = tmp_path / "bundle.npz"
    np.savez(path, other=np.arange(3), **arrays)
    with np.load(path, allow_pickle=False) as loaded:
        restored = TreeEnsemble.from_arrays(loaded, prefix)
    for name, array in ensemble.to_arrays().items():
        restored_array = restored.to_arrays()[name]
        assert restored_array.dtype == array.dtype, name
        np.testing.assert_array_equal(restored_array, array, err_msg=name)
    assert restored.n_features == ensemble.n_features == 3
    np.testing.assert_array_equal(predict_raw(restored, x), predict_raw(ensemble, x))


# ------------------------------------------------------------------------------------ failures
_NODE_NAMES = (
    "split_feature",
    "threshold",
    "decision",
    "default_left",
    "missing_type",
    "left",
    "right",
    "cat_index",
)


def _stump_arrays() -> dict[str, np.ndarray]:
    """One tree, one split ``x0 <= 0.5`` (NaN missing, default right): leaves -1 and 1."""
    return {
        "split_feature": np.array([0], np.int32),
        "threshold": np.array([0.5]),
        "decision": np.array([0], np.int8),
        "default_left": np.array([False]),
        "missing_type": np.array([2], np.int8),
        "left": np.array([-1], np.int32),
        "right": np.array([-2], np.int32),
        "cat_index": np.array([-1], np.int32),
        "leaf_value": np.array([-1.0, 1.0]),
        "tree_node_offset": np.array([0, 1], np.int64),
        "tree_leaf_offset": np.array([0, 2], np.int64),
        "cat_boundaries": np.array([0], np.int64),
        "cat_threshold": np.array([], np.uint32),
        "n_features": np.array(1, np.int64),
    }


def _first_categorical(a):
    return int(np.flatnonzero(a["decision"] == 1)[0])


def _first_numerical(a):
    return int(np.flatnonzero(a["decision"] == 0)[0])


def _node_with_two_leaves(a):
    return int(np.flatnonzero((a["left"] < 0) & (a["right"] < 0))[0])


def _set(name: str, index: Callable | int, value) -> Callable[[dict], None]:
    def mutate(a: dict) -> None:
        array = a[name].copy()
        array[index(a) if callable(index) else index] = value
        a[name] = array

    return mutate


MALFORMED: dict[str, tuple[str, Callable[[dict], None]]] = {
    "missing array": ("left", lambda a: a.pop("left")),
    "wrong dtype": (
        "split_feature",
        lambda a: a.update(split_feature=a["split_feature"].astype(np.int64)),
    ),
    "2-D": ("threshold", lambda a: a.update(threshold=a["threshold"].reshape(1, -1))),
    "short node array": ("right", lambda a: a.update(right=a["right"][:-1])),
    "feature out of range": ("split_feature", _set("split_feature", 0, 3)),
    "child out of range": ("left", _set("left", 0, 1_000_000)),
    "child loops back": ("right", _set("right", 1, 0)),
    "leaf out of range": ("left", _set("left", _node_with_two_leaves, -1_000)),
    "leaf reached twice": (
        "left",
        lambda a: _set("right", _node_with_two_leaves, a["left"][_node_with_two_leaves(a)])(a),
    ),
    "bad decision": ("decision", _set("decision", 0, 2)),
    "bad missing type": ("missing_type", _set("missing_type", 0, 3)),
    "cat index out of range": ("cat_index", _set("cat_index", _first_categorical, 10_000)),
    "cat index on numerical": ("cat_index", _set("cat_index", _first_numerical, 0)),
    "bitset words missing": (
        "cat_threshold",
        lambda a: a.update(cat_threshold=a["cat_threshold"][:-1]),
    ),
    "node offsets": ("tree_node_offset", _set("tree_node_offset", -1, 1)),
    "leaf offsets": ("tree_leaf_offset", _set("tree_leaf_offset", 1, 0)),
    "nan leaf": ("leaf_value", _set("leaf_value", 0, np.nan)),
    "n_features not scalar": ("n_features", lambda a: a.update(n_features=np.array([3]))),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_arrays_raise(categorical_model, case):
    _, ensemble, _ = categorical_model
    arrays = ensemble.to_arrays()
    name, mutate = MALFORMED[case]
    mutate(arrays)
    with pytest.raises(ValueError, match=f"'{name}'"):
        TreeEnsemble.from_arrays(arrays)


def test_bad_features_raise():
    ensemble = TreeEnsemble.from_arrays(_stump_arrays())
    with pytest.raises(ValueError, match="float32"):
        predict_raw(ensemble, np.zeros((2, 1)))
    with pytest.raises(ValueError, match="shape"):
        predict_raw(ensemble, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        predict_raw(ensemble, np.zeros((3, 2), np.float32)[:, :1])
    with pytest.raises(ValueError, match="out"):
        predict_raw_into(ensemble, np.zeros((2, 1), np.float32), np.zeros(3))


def test_multiclass_model_is_rejected():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(150, 2)).astype(np.float32)
    booster = _train(x, rng.integers(0, 3, 150), 2, objective="multiclass", num_class=3)
    with pytest.raises(ValueError, match="single-output"):
        TreeEnsemble.from_booster(booster)


def test_linear_tree_model_is_rejected():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    booster = _train(x, (x[:, 0] > 0).astype(np.float64), 2, linear_tree=True, num_leaves=3)
    with pytest.raises(ValueError, match="linear"):
        TreeEnsemble.from_booster(booster)


def test_module_does_not_import_lightgbm():
    code = "import sys, recommender.trees; assert 'lightgbm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
