"""The ranking policy: the one place that turns a model's scores into the list a user sees.

score (the model's scorer) -> boosts (``recommender.ranking.boosts``) -> rules and diversity
quota -> top-k (numba ``select_rows``) -> probability (the model's ``Calibration``) and
expected value (``price * margin * p``).

Every caller ranks through ``RankingPolicy.rank``: the client cabinet (a block of one), the
manager API, pages and exports, ``recsys nbo export``, offline evaluation ("as served"; and
"model only" with ``model_only()``), ``retrain`` and A/B replay. So the list a manager exports
is the list the API returns, and the metric that picks a champion is measured on what users see.
Settings come from ``PolicySettings`` (environment ``RECSYS_*``), shared by the server and the
offline jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal, Self

import numpy as np
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender.churn.bands import DEFAULT_HIGH, DEFAULT_MEDIUM, RiskBands
from recommender.loyalty import PROFI_TIERS, check_profi_tiers
from recommender.ranking.arith import chosen_z, row_stats
from recommender.ranking.boosts import (
    Boost,
    MarginBoost,
    ProfiBoost,
    RetentionBoost,
    TierProgressBoost,
    total_units,
)
from recommender.ranking.clients import ClientBlock
from recommender.ranking.model import RankingModel
from recommender.ranking.rules import RankingRules
from recommender.ranking.select import select_block
from recommender.scoring import POPULARITY, SOURCES, BlockScores

#: Clients scored at a time inside ``rank`` (bounds the (clients x offers) score buffer).
CHUNK_CLIENTS = 4096


class PolicySettings(BaseSettings):
    """The policy's knobs, read from the environment by the server and the offline jobs alike."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="ignore", frozen=True)

    default_k: int = Field(default=10, ge=1, description="Offers per list when none is asked.")
    max_per_kind: int = Field(default=0, ge=0, description="Diversity quota (0: none).")
    margin_boost: float = Field(default=0.05, ge=0, le=10)
    loyalty_boost: float = Field(default=0.05, ge=0, le=10)
    #: Which loyalty programme ``loyalty_boost`` serves: "profi" (tiers by services in use,
    #: ``ProfiBoost``) or "spend" (tiers by yearly spend, ``TierProgressBoost``).
    loyalty_programme: Literal["profi", "spend"] = "profi"
    #: The "Profi" tiers: the fewest services in use of each, in order (JSON in the environment).
    profi_thresholds: dict[str, int] = Field(default_factory=lambda: dict(PROFI_TIERS))
    #: Retention offers for clients at risk of churning (``RetentionBoost``; 0: off), and the
    #: churn probabilities where the medium and the high risk band start (``RiskBands``).
    retention_boost: float = Field(default=0.1, ge=0, le=10)
    churn_band_medium: float = Field(default=DEFAULT_MEDIUM, gt=0, lt=1)
    churn_band_high: float = Field(default=DEFAULT_HIGH, gt=0, le=1)

    @field_validator("profi_thresholds")
    @classmethod
    def _valid_tiers(cls, value: dict[str, int]) -> dict[str, int]:
        return check_profi_tiers(value)

    @model_validator(mode="after")
    def _valid_bands(self) -> Self:
        self.risk_bands()  # raises naming both thresholds when they are out of order
        return self

    def risk_bands(self) -> RiskBands:
        return RiskBands(self.churn_band_medium, self.churn_band_high)


@dataclass(frozen=True, eq=False)
class RankedBlock:
    """The lists of a block of clients; rows align with ``block``, padding is -1 / NaN / 0."""

    block: ClientBlock
    items: np.ndarray  # int64 (n, k)
    totals: np.ndarray  # float32 (n, k): score + boosts, what the order follows
    scores: np.ndarray  # float32 (n, k): the model's raw score
    z: np.ndarray  # float64 (n, k): the score as a z-score among the client's scores (NaN pad)
    probability: np.ndarray  # float64 (n, k): calibrated p (0 on padding)
    value: np.ndarray  # float64 (n, k): expected value price * margin * p (0 on padding)
    sources: np.ndarray  # int8 (n,): how each client was scored (``recommender.scoring``)

    def __len__(self) -> int:
        return len(self.block)

    @property
    def expected_value(self) -> np.ndarray:
        """Each client's opportunity: the sum of its offers' expected values."""
        return self.value.sum(axis=1)

    def source_name(self, i: int) -> str:
        """How client ``i`` was scored (``personal``, ``owned_offers``, ``features`` ...)."""
        return SOURCES[int(self.sources[i])]

    def row(self, i: int) -> np.ndarray:
        """The item indices of client ``i``'s list, padding removed."""
        items = self.items[i]
        return items[items >= 0]

    def by_opportunity(self) -> np.ndarray:
        """Row order by expected value, high first; the client id breaks ties."""
        ids = np.asarray([c or "" for c in self.block.client_ids], dtype=object)
        return np.lexsort((ids, -self.expected_value))


@dataclass(frozen=True)
class RankingPolicy:
    """Rules, boosts and the quota; ``rank`` applies them to any block of clients."""

    default_k: int = 10
    max_per_kind: int = 0
    boosts: tuple[Boost, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, settings: PolicySettings | None = None) -> RankingPolicy:
        """The policy the service runs with (``PolicySettings()`` reads the environment)."""
        s = settings if settings is not None else PolicySettings()
        boosts: list[Boost] = []
        if s.margin_boost > 0:
            boosts.append(MarginBoost(s.margin_boost))
        if s.loyalty_boost > 0 and s.loyalty_programme == "profi":
            boosts.append(ProfiBoost(s.loyalty_boost, tuple(s.profi_thresholds.values())))
        elif s.loyalty_boost > 0:
            boosts.append(TierProgressBoost(s.loyalty_boost))
        if s.retention_boost > 0:
            tiers = tuple(s.profi_thresholds.values())
            boosts.append(RetentionBoost(s.retention_boost, s.risk_bands(), tiers))
        return cls(s.default_k, s.max_per_kind, tuple(boosts))

    def model_only(self) -> RankingPolicy:
        """The same lists without boosts or quota: what the model alone would rank."""
        return replace(self, max_per_kind=0, boosts=())

    def rules(self, k: int | None = None, kinds: Sequence[str] | None = None) -> RankingRules:
        """The rules of one request (``k`` defaults to the policy's)."""
        return _rules(
            self.default_k if k is None else k,
            frozenset(kinds) if kinds else None,
            self.max_per_kind,
        )

    def rank(
        self,
        model: RankingModel,
        block: ClientBlock,
        rules: RankingRules | None = None,
        *,
        baseline_rows: Sequence[str] | None = None,
    ) -> RankedBlock:
        """Top offers for every client of ``block``.

        ``baseline_rows``: score everyone by these popularity rows whatever the model could do
        (the uniform-offer arms of an experiment).
        """
        rules = rules or self.rules()
        if len(block) <= CHUNK_CLIENTS:
            return self._rank_chunk(model, block, rules, baseline_rows)
        parts = [
            self._rank_chunk(
                model, block.slice(s, min(s + CHUNK_CLIENTS, len(block))), rules, baseline_rows
            )
            for s in range(0, len(block), CHUNK_CLIENTS)
        ]
        return concat(block, parts)

    def _rank_chunk(
        self,
        model: RankingModel,
        block: ClientBlock,
        rules: RankingRules,
        baseline_rows: Sequence[str] | None,
    ) -> RankedBlock:
        scored = self._scores(model, block, baseline_rows)
        scores = scored.scores
        stats = np.empty((len(block), 3), dtype=np.float64)
        row_stats(scores, stats)
        units = total_units(self.boosts, model, block)
        if units.size:
            spread = np.where(stats[:, 0] > 0, stats[:, 0], 1.0)  # equal scores: boosts decide
            totals = (scores + spread[:, None] * units).astype(np.float32)
        else:
            totals = scores
        items, chosen_totals = select_block(
            totals, block.owned_indptr, block.owned_indices, block.segments, model.catalog, rules
        )
        raw = np.empty(items.shape, dtype=np.float32)
        z = np.empty(items.shape, dtype=np.float64)
        chosen_z(scores, items, stats, raw, z)
        probability = np.nan_to_num(model.calibration.probability(z), nan=0.0)
        value = np.where(items >= 0, model.value[np.maximum(items, 0)] * probability, 0.0)
        return RankedBlock(block, items, chosen_totals, raw, z, probability, value, scored.sources)

    @staticmethod
    def _scores(
        model: RankingModel, block: ClientBlock, baseline_rows: Sequence[str] | None
    ) -> BlockScores:
        if baseline_rows is None:
            return model.scorer.score(block)
        row = model.scorer.popularity_scores(baseline_rows)
        scores = np.ascontiguousarray(np.broadcast_to(row, (len(block), model.n_items)))
        return BlockScores(scores, np.full(len(block), POPULARITY, dtype=np.int8))


_ARRAYS = ("items", "totals", "scores", "z", "probability", "value", "sources")


def concat(block: ClientBlock, parts: Sequence[RankedBlock]) -> RankedBlock:
    """One ``RankedBlock`` of ``block`` from the ranked consecutive slices ``parts``."""
    if len(parts) == 1:
        return replace(parts[0], block=block)
    if not parts:
        raise ValueError("nothing to concatenate")
    return RankedBlock(block, *(np.concatenate([getattr(p, f) for p in parts]) for f in _ARRAYS))


@lru_cache(maxsize=1024)
def _rules(k: int, kinds: frozenset[str] | None, max_per_kind: int) -> RankingRules:
    """Rules are immutable and few distinct ones are asked for: built (and hashed) once."""
    return RankingRules(k=k, kinds=kinds, max_per_kind=max_per_kind)
