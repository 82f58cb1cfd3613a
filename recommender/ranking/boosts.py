"""Business boosts: what the policy adds to a model's scores before the top-k.

A boost gives each (client, offer) a unit in [0, weight]; the policy adds ``spread * unit`` to
the score, ``spread`` being the client's own score range (max - min), so a boost of 0.05 moves
an offer by 5 % of that client's range whatever the model's scale. Adding a boost means adding
a class here with a ``units`` method and listing it in ``boosts_from``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.churn.bands import RiskBands
from recommender.domain import LOYALTY_TIERS
from recommender.loyalty import PROFI_TIERS, SERVICE_KINDS, TIER_THRESHOLDS
from recommender.ranking.clients import ClientBlock
from recommender.ranking.model import RankingModel


class Boost(abc.ABC):
    """One boost: per-offer units for a block, broadcastable to (n clients, n items)."""

    @abc.abstractmethod
    def units(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        """(n, n_items) or (n_items,) units; zero where the boost does not apply."""


@dataclass(frozen=True)
class MarginBoost(Boost):
    """``weight * margin``: offers that earn more rise a little, for every client."""

    weight: float

    def units(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        return self.weight * model.margin


@dataclass(frozen=True)
class TierProgressBoost(Boost):
    """For a client below the top loyalty tier: ``weight * min(price / needed, 1)``, where
    ``needed`` is the yearly spend still missing for the next tier (``recommender.loyalty``):
    an offer that closes the gap gets the whole weight."""

    weight: float

    def units(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        inverse = self.inverse_needed(model, block)
        if not np.any(inverse > 0):
            return np.zeros(model.n_items)
        return self.weight * np.minimum(model.price[None, :] * inverse[:, None], 1.0)

    @staticmethod
    def inverse_needed(model: RankingModel, block: ClientBlock) -> np.ndarray:
        """1 / the spend each client still needs for its next tier (0 at the top)."""
        spend = np.add.reduceat(
            np.append(model.price[block.owned_indices], 0.0), block.owned_indptr[:-1]
        )
        spend = np.where(block.owned_counts > 0, spend, 0.0)
        thresholds = np.array([TIER_THRESHOLDS[t] for t in LOYALTY_TIERS], dtype=np.float64)
        # the tier the spend reaches: one definition with ``recommender.loyalty``
        position = np.maximum(np.searchsorted(thresholds, spend, side="right") - 1, 0)
        top = len(LOYALTY_TIERS) - 1
        target = thresholds[np.minimum(position + 1, top)]
        needed = np.where(position < top, np.maximum(target - spend, 0.0), 0.0)
        return np.divide(1.0, needed, out=np.zeros_like(needed), where=needed > 0)


def total_units(boosts: Sequence[Boost], model: RankingModel, block: ClientBlock) -> np.ndarray:
    """The sum of every boost's units, (n, n_items) or (n_items,); an empty array for none."""
    total: np.ndarray | None = None
    for boost in boosts:
        units = boost.units(model, block)
        total = units if total is None else total + units
    return np.zeros(0) if total is None else total


@dataclass(frozen=True)
class ProfiBoost(Boost):
    """The "Profi" programme (``recommender.loyalty``): for a client below the top tier, an
    offer that adds a service in use (a tariff of a family it does not hold, or an add-on)
    gets ``weight * min(1 / needed, 1)``, ``needed`` being the services still missing for the
    next tier: an offer that brings the client to the next tier gets the whole weight."""

    weight: float
    #: The fewest services of each tier, in tier order (the values of ``PROFI_TIERS``).
    thresholds: tuple[int, ...] = tuple(PROFI_TIERS.values())

    def units(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        needed = self.needed(model, block)
        if not np.any(needed > 0):
            return np.zeros(model.n_items)
        adds = self.adds_a_service(model, block)
        share = np.divide(1.0, needed, out=np.zeros_like(needed), where=needed > 0)
        return self.weight * np.where(adds, np.minimum(share, 1.0)[:, None], 0.0)

    def services(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        """Services each client uses now (owned offers of a ``SERVICE_KINDS`` kind)."""
        is_service = _service_mask(model)
        counted = np.append(is_service[block.owned_indices].astype(np.float64), 0.0)
        total = np.add.reduceat(counted, block.owned_indptr[:-1])
        return np.where(block.owned_counts > 0, total, 0.0)

    def needed(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        """Services each client still misses for its next tier (0 at the top)."""
        services = self.services(model, block)
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        position = np.maximum(np.searchsorted(thresholds, services, side="right") - 1, 0)
        top = len(thresholds) - 1
        target = thresholds[np.minimum(position + 1, top)]
        return np.where(position < top, np.maximum(target - services, 0.0), 0.0)

    @staticmethod
    def adds_a_service(model: RankingModel, block: ClientBlock) -> np.ndarray:
        """(n, n_items): the offer would be one more service in use for the client."""
        is_service = _service_mask(model)
        family = np.asarray(model.servable.catalog.family, dtype=np.int64).reshape(-1)
        n_families = int(family.max()) + 1 if len(family) else 0
        rows = np.repeat(np.arange(len(block)), block.owned_counts)
        owned = np.zeros((len(block), model.n_items), dtype=bool)
        owned[rows, block.owned_indices] = True
        held = np.zeros((len(block), max(n_families, 1)), dtype=bool)
        in_family = family[block.owned_indices] >= 0
        held[rows[in_family], family[block.owned_indices][in_family]] = True
        family_held = np.where(family[None, :] >= 0, held[:, np.maximum(family, 0)], False)
        return is_service[None, :] & ~owned & ~family_held


def _service_mask(model: RankingModel) -> np.ndarray:
    return np.asarray([kind in SERVICE_KINDS for kind in model.kinds], dtype=bool)


#: The client attribute the retention boost reads: the churn probability (``recommender.churn``)
#: the caller put in the block (NaN or absent: not known, no boost).
CHURN_ATTRIBUTE = "churn_probability"
#: Offers whose id or tariff family holds one of these words are support offers.
SUPPORT_MARKERS: tuple[str, ...] = ("support", "onsite", "outsourcing", "servicedesk")


@dataclass(frozen=True)
class RetentionBoost(Boost):
    """For a client at risk of churning, the offers that keep clients: ``weight * w(p)`` on
    training (courses), support (an offer whose id or tariff family names support, see
    ``SUPPORT_MARKERS``: a support tariff of a family it lacks, an on-site engineer, ...) and
    the step to the next "Profi" tier (an offer that adds a service in use while the client is
    below the top tier). ``w(p)`` comes from the risk bands (``RiskBands.weight``): 0 in the
    low band, 0.5 at the medium threshold rising to 1 at the high one. The probability is the
    block's ``churn_probability`` attribute; clients without one get nothing."""

    weight: float
    bands: RiskBands = field(default_factory=RiskBands)
    profi_thresholds: tuple[int, ...] = tuple(PROFI_TIERS.values())
    support_markers: tuple[str, ...] = SUPPORT_MARKERS

    def units(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        risk = self.client_weights(block)
        if not np.any(risk > 0):
            return np.zeros(model.n_items)
        return self.weight * np.where(self.retention_offers(model, block), risk[:, None], 0.0)

    @staticmethod
    def probabilities(block: ClientBlock) -> np.ndarray:
        """Each client's churn probability from the block (NaN where unknown)."""
        values = block.attributes.get(CHURN_ATTRIBUTE)
        if values is None:
            return np.full(len(block), np.nan)
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)

    def client_weights(self, block: ClientBlock) -> np.ndarray:
        """Each client's share of the boost, in [0, 1] (0: not at risk, or unknown)."""
        return self.bands.weight(self.probabilities(block))

    def retention_offers(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        """(n, n_items): the offer is a retention offer for the client (course, support, or
        a step toward the next Profi tier)."""
        kinds = np.asarray(model.kinds, dtype=object)
        static = (kinds == "course") | self.support_mask(model)
        profi = ProfiBoost(1.0, self.profi_thresholds)
        below_top = profi.needed(model, block) > 0
        step = below_top[:, None] & ProfiBoost.adds_a_service(model, block)
        return static[None, :] | step

    def kind_of(self, model: RankingModel, block: ClientBlock) -> np.ndarray:
        """(n, n_items) why each offer retains: "course", "support", "profi" or ""."""
        kinds = np.asarray(model.kinds, dtype=object)
        out = np.full((len(block), model.n_items), "", dtype=object)
        profi = ProfiBoost(1.0, self.profi_thresholds)
        step = (profi.needed(model, block) > 0)[:, None] & ProfiBoost.adds_a_service(model, block)
        out[step] = "profi"
        out[:, self.support_mask(model)] = "support"
        out[:, kinds == "course"] = "course"
        return out

    def support_mask(self, model: RankingModel) -> np.ndarray:
        """(n_items,): the offer is a support offer (its id or family names support)."""
        catalog = model.servable.catalog
        family = np.asarray(catalog.family, dtype=np.int64).reshape(-1)
        names = catalog.family_names
        texts = [
            f"{item} {names[f] if f >= 0 else ''}".lower()
            for item, f in zip(model.item_ids, family.tolist(), strict=True)
        ]
        return np.asarray(
            [any(m in text for m in self.support_markers) for text in texts], dtype=bool
        )
