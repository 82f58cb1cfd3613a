import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog import catalog_arrays, popularity_table, usage_table
from recommender.cousage import co_usage_from_matrix
from recommender.dataset import Dataset
from recommender.servable import ArtifactError, ServableModel
from recommender.usage import usage_matrix


def _model(ds: Dataset) -> ServableModel:
    rng = np.random.default_rng(0)
    table, names = popularity_table(ds)
    return ServableModel(
        name="test",
        mode="factors",
        item_ids=ds.item_ids.external,
        client_ids=ds.client_ids.external,
        catalog=catalog_arrays(ds),
        popularity=table,
        segment_names=names,
        client_factors=rng.normal(size=(ds.n_clients, 3)).astype(np.float32),
        item_factors=rng.normal(size=(ds.n_items, 3)).astype(np.float32),
        fold_in_regularization=0.1,
        metadata={"model": "test"},
    )


def test_save_load_round_trip(tmp_path: Path, rules_dataset: Dataset) -> None:
    model = _model(rules_dataset)
    model.save(tmp_path)
    loaded = ServableModel.load(tmp_path)
    assert loaded.item_factors is not None and model.item_factors is not None
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)
    assert list(loaded.item_ids) == list(model.item_ids)
    assert loaded.segment_names == model.segment_names
    assert loaded.catalog.family_names == model.catalog.family_names
    np.testing.assert_array_equal(loaded.catalog.prereq_indices, model.catalog.prereq_indices)
    assert loaded.metadata == {"model": "test"}


def test_corrupted_artifact_is_refused(tmp_path: Path, rules_dataset: Dataset) -> None:
    _model(rules_dataset).save(tmp_path)
    data = bytearray((tmp_path / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        ServableModel.load(tmp_path)


def test_incompatible_version_and_missing_file(tmp_path: Path, rules_dataset: Dataset) -> None:
    _model(rules_dataset).save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format_version 99"):
        ServableModel.load(tmp_path)
    (tmp_path / "arrays.npz").unlink()
    with pytest.raises(ArtifactError, match=r"missing arrays\.npz"):
        ServableModel.load(tmp_path)


def test_shape_mismatch_is_refused(rules_dataset: Dataset) -> None:
    model = _model(rules_dataset)
    broken = ServableModel(**{**model.__dict__, "item_factors": np.zeros((2, 3), dtype=np.float32)})
    with pytest.raises(ArtifactError, match=r"item_factors rows"):
        broken.validate()


def _with_reason_tables(ds: Dataset) -> ServableModel:
    usage, _ = usage_table(ds)
    co_usage = co_usage_from_matrix(usage_matrix(ds), min_support=1, min_share=0, min_lift=0)
    return ServableModel(**{**_model(ds).__dict__, "usage": usage, "co_usage": co_usage})


def test_reason_tables_round_trip(tmp_path: Path, rules_dataset: Dataset) -> None:
    model = _with_reason_tables(rules_dataset)
    assert model.co_usage is not None and len(model.co_usage.partner) > 0
    loaded = ServableModel.load(model.save(tmp_path))
    assert loaded.usage is not None and loaded.co_usage is not None
    np.testing.assert_array_equal(loaded.usage, model.usage)
    for name in ("indptr", "partner", "count", "share", "lift"):
        np.testing.assert_array_equal(getattr(loaded.co_usage, name), getattr(model.co_usage, name))


def test_bundle_without_reason_tables_still_loads(tmp_path: Path, rules_dataset: Dataset) -> None:
    _model(rules_dataset).save(tmp_path)  # what bundles looked like before the tables
    loaded = ServableModel.load(tmp_path)
    assert loaded.usage is None and loaded.co_usage is None


def test_incomplete_co_usage_is_refused(tmp_path: Path, rules_dataset: Dataset) -> None:
    _with_reason_tables(rules_dataset).save(tmp_path)
    with np.load(tmp_path / "arrays.npz") as npz:
        arrays = {key: npz[key] for key in npz.files if key != "co_usage.lift"}
    np.savez(tmp_path / "arrays.npz", **arrays)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["arrays_sha256"] = hashlib.sha256((tmp_path / "arrays.npz").read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"incomplete co-usage arrays.*co_usage\.lift"):
        ServableModel.load(tmp_path)


def test_inconsistent_reason_tables_are_refused(rules_dataset: Dataset) -> None:
    model = _with_reason_tables(rules_dataset)
    assert model.co_usage is not None
    wrong_usage = ServableModel(**{**model.__dict__, "usage": model.popularity[:1]})
    with pytest.raises(ArtifactError, match="usage shape"):
        wrong_usage.validate()
    partner = model.co_usage.partner.copy()
    partner[0] = model.n_items
    broken = replace(model.co_usage, partner=partner)
    with pytest.raises(ArtifactError, match=r"co_usage\.partner range"):
        ServableModel(**{**model.__dict__, "co_usage": broken}).validate()


def _with_pairs(ds: Dataset, **fields: object) -> ServableModel:
    rng = np.random.default_rng(2)
    n = ds.n_items
    arrays = {
        "mode": "item_item",
        "item_item": rng.normal(size=(n, n)).astype(np.float32),
        "client_factors": None,
        "item_factors": None,
        "pair_items": np.array([[0, 1], [1, 3]], dtype=np.int32),
        "pair_weights": rng.normal(size=(2, n)).astype(np.float32),
    }
    return ServableModel(**{**_model(ds).__dict__, **arrays, **fields})


def test_pair_arrays_round_trip(tmp_path: Path, rules_dataset: Dataset) -> None:
    model = _with_pairs(rules_dataset)
    loaded = ServableModel.load(model.save(tmp_path))
    assert loaded.pair_items is not None and loaded.pair_weights is not None
    np.testing.assert_array_equal(loaded.pair_items, model.pair_items)
    np.testing.assert_array_equal(loaded.pair_weights, model.pair_weights)
    assert ServableModel.load(_model(rules_dataset).save(tmp_path / "plain")).pair_items is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pair_weights": None}, "pair_items and pair_weights come together"),
        ({"pair_items": np.array([[0, 99], [1, 3]], dtype=np.int32)}, r"pair_items range"),
        ({"pair_items": np.array([[1, 0], [1, 3]], dtype=np.int32)}, r"pair_items order"),
        ({"pair_items": np.array([[0, 1], [0, 1]], dtype=np.int32)}, r"pair_items duplicates"),
        ({"pair_items": np.array([0, 1], dtype=np.int32)}, r"pair_items shape"),
        ({"pair_weights": np.zeros((3, 6), dtype=np.float32)}, r"pair_weights shape"),
    ],
)
def test_broken_pair_arrays_are_refused_on_load(
    tmp_path: Path, rules_dataset: Dataset, fields: dict[str, object], message: str
) -> None:
    _with_pairs(rules_dataset, **fields).save(tmp_path)
    with pytest.raises(ArtifactError, match=message):
        ServableModel.load(tmp_path)


def test_pairs_only_in_item_item_mode(rules_dataset: Dataset) -> None:
    broken = _with_pairs(
        rules_dataset, mode="factors", item_factors=_model(rules_dataset).item_factors
    )
    with pytest.raises(ArtifactError, match=r"pair_items in 'factors' mode"):
        broken.validate()
