from typing import ClassVar

from tests.recommender.models.contract import ModelContract


class TestEASE(ModelContract):
    model_name = "ease"
    config: ClassVar = {"l2": 1.0}
