from typing import ClassVar

from tests.recommender.models.contract import ModelContract


class TestBPR(ModelContract):
    model_name = "bpr"
    config: ClassVar = {"factors": 4, "iterations": 50, "learning_rate": 0.05}
