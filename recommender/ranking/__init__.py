"""Ranking: business rules, the numpy reference, and (in ``kernels``) the numba kernels."""

from recommender.ranking.reference import candidate_mask, rank_reference
from recommender.ranking.rules import RankingRules, allowed_mask

__all__ = ["RankingRules", "allowed_mask", "candidate_mask", "rank_reference"]
