"""Ranking: the one policy (``RankingPolicy``), its business rules, and the numba kernels."""

from recommender.ranking.clients import ClientBlock, fallback_rows
from recommender.ranking.model import RankingModel
from recommender.ranking.policy import PolicySettings, RankedBlock, RankingPolicy
from recommender.ranking.reference import candidate_mask, rank_reference
from recommender.ranking.rules import RankingRules, allowed_mask

__all__ = [
    "ClientBlock",
    "PolicySettings",
    "RankedBlock",
    "RankingModel",
    "RankingPolicy",
    "RankingRules",
    "allowed_mask",
    "candidate_mask",
    "fallback_rows",
    "rank_reference",
]
