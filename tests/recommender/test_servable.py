import json
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog import catalog_arrays, popularity_table
from recommender.dataset import Dataset
from recommender.servable import ArtifactError, ServableModel


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
