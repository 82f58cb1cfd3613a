"""Loyalty tiers measured by yearly spend: where a client stands and how far the next tier is.

A client's spend is the sum of the list prices of the offers it owns now (prices are yearly
list prices in the catalog). The tier thresholds below are the spend a client needs to reach
each tier. One definition everywhere (pages, exports, the API's loyalty boost): the tier is
the one the spend reaches, and progress is the spend toward the threshold of the tier after
it, so it is always below 100 % (a spend past a threshold *is* the next tier). A tier imported
from the CRM (``loyalty_tier``) is checked against it, not trusted: when they disagree, both
are shown (``stated``), the derived one counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender.domain import LOYALTY_TIERS

#: Yearly spend (currency units of the catalog) needed for each tier, in tier order.
TIER_THRESHOLDS: dict[str, float] = {
    "bronze": 0.0,
    "silver": 250_000.0,
    "gold": 1_000_000.0,
    "platinum": 3_000_000.0,
}


@dataclass(frozen=True)
class TierProgress:
    """A client's tier, the next one and the share of the way there (0..1)."""

    tier: str
    next_tier: str | None
    spend: float
    needed: float
    progress: float
    #: The imported (CRM) tier when it disagrees with the spend; ``None`` when it agrees.
    stated: str | None = None

    @property
    def label(self) -> str:
        crm = f" (CRM says {self.stated})" if self.stated else ""
        if self.next_tier is None:
            return f"{self.tier} (top tier){crm}"
        return f"{self.tier} -> {self.next_tier}: {self.progress:.0%}{crm}"


def tier_of_spend(spend: float) -> str:
    """The highest tier whose threshold ``spend`` reaches."""
    reached = [t for t in LOYALTY_TIERS if spend >= TIER_THRESHOLDS[t]]
    return reached[-1] if reached else LOYALTY_TIERS[0]


def tier_progress(spend: float, tier: str | None = None) -> TierProgress:
    """Progress of a client with yearly ``spend``; ``tier`` (imported) is only checked."""
    current = tier_of_spend(spend)
    stated = tier if tier in TIER_THRESHOLDS and tier != current else None
    position = LOYALTY_TIERS.index(current)
    if position == len(LOYALTY_TIERS) - 1:
        return TierProgress(current, None, spend, 0.0, 1.0, stated)
    following = LOYALTY_TIERS[position + 1]
    target = TIER_THRESHOLDS[following]
    needed = max(target - spend, 0.0)
    progress = min(spend / target, 1.0) if target > 0 else 1.0
    return TierProgress(current, following, spend, needed, progress, stated)
