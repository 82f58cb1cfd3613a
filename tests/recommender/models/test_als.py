from typing import ClassVar

from tests.recommender.models.contract import ModelContract


class TestALS(ModelContract):
    model_name = "als"
    config: ClassVar = {"factors": 2, "iterations": 10}
