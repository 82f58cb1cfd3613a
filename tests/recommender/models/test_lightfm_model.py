from typing import ClassVar

from recommender.models import build_model
from tests.recommender.models.contract import ModelContract, checkerboard_dataset


class TestLightFMWarp(ModelContract):
    model_name = "lightfm"
    config: ClassVar = {"no_components": 4, "epochs": 10}


class TestLightFMBPR(ModelContract):
    model_name = "lightfm_bpr"
    config: ClassVar = {"no_components": 4, "epochs": 10}


def test_client_features_left_unset_are_chosen_on_validation() -> None:
    dataset = checkerboard_dataset(clients_per_group=30, per_client=3)
    model = build_model("lightfm", {"no_components": 4, "epochs": 10, "item_alpha": 0.0})
    model.fit(dataset)
    auto = model.export().metadata["auto_config"]
    tried = {row["use_client_features"] for row in auto["validation_ndcg_at_10"]}
    assert tried == {True, False}
    assert model.config.use_client_features is auto["chosen"]["use_client_features"]
    given = build_model(
        "lightfm",
        {
            "no_components": 4,
            "epochs": 10,
            "item_alpha": 0.0,
            "use_client_features": True,
            "popularity_weight": 0.0,
        },
    )
    assert given.fit(dataset).auto_choice is None
