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


# ------------------------------------------------------------------ the "Profi" programme
#: The "Profi" programme: tiers by the number of services a client actively uses (active
#: tariffs and add-ons it holds; courses do not count), the fewest services of each tier, in
#: order. Clients using 3-5 services get priority support and training benefits. Configurable
#: through ``PolicySettings.profi_thresholds`` (environment ``RECSYS_PROFI_THRESHOLDS``, JSON).
PROFI_TIERS: dict[str, int] = {"basic": 0, "profi": 3, "profi_plus": 5}
#: Offer kinds that count as services in use.
SERVICE_KINDS: frozenset[str] = frozenset({"tariff", "addon"})


def check_profi_tiers(tiers: dict[str, int]) -> dict[str, int]:
    """``tiers`` if valid: at least one, the first at 0, strictly increasing whole numbers."""
    values = list(tiers.values())
    if not values:
        raise ValueError("profi tiers: at least one tier is needed")
    if values[0] != 0:
        raise ValueError(f"profi tiers: the first tier must start at 0 services, not {values[0]}")
    for (name, low), high in zip(tiers.items(), values[1:], strict=False):
        if not high > low:
            raise ValueError(
                f"profi tiers: thresholds must increase, but {name!r} starts at {low} and the "
                f"next at {high}"
            )
    if any(int(v) != v or v < 0 for v in values):
        raise ValueError(f"profi tiers: thresholds must be whole numbers >= 0, got {values}")
    return dict(tiers)


@dataclass(frozen=True)
class ProfiProgress:
    """A client's programme tier, the next one, and the services still missing for it."""

    tier: str
    next_tier: str | None
    services: int
    needed: int
    progress: float

    @property
    def label(self) -> str:
        if self.next_tier is None:
            return f"{self.tier} (top tier, {self.services} services)"
        return f"{self.tier} -> {self.next_tier}: {self.services} services, {self.needed} to go"


def profi_progress(services: int, tiers: dict[str, int] | None = None) -> ProfiProgress:
    """Where a client using ``services`` services stands in the programme."""
    tiers = check_profi_tiers(tiers if tiers is not None else PROFI_TIERS)
    names = list(tiers)
    reached = [n for n in names if services >= tiers[n]]
    current = reached[-1] if reached else names[0]
    position = names.index(current)
    if position == len(names) - 1:
        return ProfiProgress(current, None, services, 0, 1.0)
    following = names[position + 1]
    target = tiers[following]
    return ProfiProgress(current, following, services, target - services, services / target)
