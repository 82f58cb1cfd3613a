from typing import ClassVar

from tests.recommender.models.contract import ModelContract


class TestRanker(ModelContract):
    model_name = "ranker"
    config: ClassVar = {"l2": 1.0, "n_rounds": 20, "min_child_samples": 5}
