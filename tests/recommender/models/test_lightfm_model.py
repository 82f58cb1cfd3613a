from typing import ClassVar

from tests.recommender.models.contract import ModelContract


class TestLightFMWarp(ModelContract):
    model_name = "lightfm"
    config: ClassVar = {"no_components": 4, "epochs": 10}


class TestLightFMBPR(ModelContract):
    model_name = "lightfm_bpr"
    config: ClassVar = {"no_components": 4, "epochs": 10}
