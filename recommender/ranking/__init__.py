"""Ranking: business rules, the numpy reference, and the numba kernels behind ``rank_*``."""

from recommender.ranking.batch import rank_batch
from recommender.ranking.fast import rank_factors, rank_scores
from recommender.ranking.reference import candidate_mask, rank_reference
from recommender.ranking.rules import RankingRules, allowed_mask
from recommender.ranking.warmup import warm_up

__all__ = [
    "RankingRules",
    "allowed_mask",
    "candidate_mask",
    "rank_batch",
    "rank_factors",
    "rank_reference",
    "rank_scores",
    "warm_up",
]
