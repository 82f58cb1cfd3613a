"""Recommendation models: one protocol (``Recommender``), one config per model, a registry."""

from recommender.models.base import ModelConfig, NotFittedError, Recommender
from recommender.models.registry import MODELS, build_model

__all__ = ["MODELS", "ModelConfig", "NotFittedError", "Recommender", "build_model", "rank_clients"]
