"""Models by name: what the CLI, MLflow runs and tuning use to build a model from params."""

from __future__ import annotations

from typing import Any

from recommender.models.als import ALSModel
from recommender.models.base import Recommender
from recommender.models.bpr import BPRModel
from recommender.models.ease import EASEModel
from recommender.models.lightfm_model import LightFMBPRModel, LightFMModel
from recommender.models.popularity import (
    IndustryPopularityModel,
    PopularityModel,
    SegmentPopularityModel,
)
from recommender.models.ranker import RankerModel

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (
        PopularityModel,
        SegmentPopularityModel,
        IndustryPopularityModel,
        ALSModel,
        BPRModel,
        LightFMModel,
        LightFMBPRModel,
        EASEModel,
        RankerModel,
    )
}


def build_model(name: str, config: dict[str, Any] | None = None) -> Recommender:
    """A new, unfitted model from its registry name and config params.

    An unknown name is a ``ValueError`` listing the known ones; an unknown or invalid config
    key is pydantic's ``ValidationError`` (itself a ``ValueError``) naming the key.
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None
    return cls(cls.config_class(**(config or {})))
