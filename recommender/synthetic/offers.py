"""The catalog as aligned numpy arrays, the form the vectorized story works with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from recommender.domain import INDUSTRIES
from recommender.synthetic import story
from recommender.synthetic.catalog import OFFERS, THEMES, Offer


@dataclass(frozen=True, eq=False)
class OfferArrays:
    """Per-item arrays (index = position in ``OFFERS``) and the trigger rules as indices."""

    ids: tuple[str, ...]
    theme: np.ndarray  # (I,) codes into THEMES
    log_base: np.ndarray  # (I,) log base popularity
    eco_line: np.ndarray  # (I,) code into story.ECOSYSTEMS lines, -1 none
    eco_member: np.ndarray  # (I,) member code within the line
    industry_fit: np.ndarray  # (n_industries, I) bool: the industry needs this offer most
    is_course: np.ndarray
    is_tariff: np.ndarray
    family: np.ndarray  # (I,) family code, -1 none
    families: tuple[np.ndarray, ...]  # item indices of each family, in tier order
    tier: np.ndarray  # (I,) support level 0..3, -1 for non-tariffs
    eligible_b2b: np.ndarray
    eligible_b2g: np.ndarray
    prerequisites: tuple[tuple[int, ...], ...]
    duration: np.ndarray  # (I,) course duration in days
    per_seat: np.ndarray  # (I,) bought per seat (licences, subscriptions)
    price: np.ndarray
    rules: tuple[tuple[int, int, float, float], ...]  # (source, target, p, lag_days)

    @property
    def n_items(self) -> int:
        return len(self.ids)

    @property
    def root(self) -> np.ndarray:
        """Offers without prerequisites: the only ones a client picks on its own."""
        return np.asarray([not p for p in self.prerequisites])

    def eligible(self, b2g: np.ndarray) -> np.ndarray:
        """(n, I) bool: which offers each client's segment may buy."""
        return np.where(b2g[:, None], self.eligible_b2g[None, :], self.eligible_b2b[None, :])


@lru_cache(maxsize=1)
def offer_arrays(offers: tuple[Offer, ...] = OFFERS) -> OfferArrays:
    """Build (once) the arrays of the catalog and resolve trigger rules to indices."""
    index = {o.item_id: i for i, o in enumerate(offers)}
    lines = list(story.ECOSYSTEMS)
    family_names = sorted({o.family for o in offers if o.family})
    family_code = {f: i for i, f in enumerate(family_names)}
    families = tuple(
        np.asarray(
            sorted((i for i, o in enumerate(offers) if o.family == f), key=lambda i: offers[i].tier)
        )
        for f in family_names
    )
    eco_line, eco_member = [], []
    for o in offers:
        if o.ecosystem is None:
            eco_line.append(-1)
            eco_member.append(-1)
        else:
            line, member = o.ecosystem.split(":")
            eco_line.append(lines.index(line))
            eco_member.append(story.ECOSYSTEM_MEMBERS[line].index(member))
    chains = [
        story.Trigger(pre, o.item_id, story.NEXT_COURSE_P, 60.0)
        for o in offers
        if o.kind == "course"
        for pre in o.prerequisites
    ]
    rules = tuple(
        (index[r.source], index[r.target], r.p, r.lag_days)
        for r in (*story.FUNNELS, *story.BUNDLES, *chains)
    )
    return OfferArrays(
        ids=tuple(index),
        theme=np.asarray([THEMES.index(o.theme) for o in offers]),
        log_base=np.log(np.asarray([o.base for o in offers])),
        eco_line=np.asarray(eco_line),
        eco_member=np.asarray(eco_member),
        industry_fit=np.asarray([[ind in o.industries for o in offers] for ind in INDUSTRIES]),
        is_course=np.asarray([o.kind == "course" for o in offers]),
        is_tariff=np.asarray([o.kind == "tariff" for o in offers]),
        family=np.asarray([family_code[o.family] if o.family else -1 for o in offers]),
        families=families,
        tier=np.asarray([o.tier for o in offers]),
        eligible_b2b=np.asarray([o.eligibility in ("B2B", "both") for o in offers]),
        eligible_b2g=np.asarray([o.eligibility in ("B2G", "both") for o in offers]),
        prerequisites=tuple(tuple(index[p] for p in o.prerequisites) for o in offers),
        duration=np.asarray([o.duration_days for o in offers]),
        per_seat=np.asarray([("licence" in o.tags) or o.kind == "tariff" for o in offers]),
        price=np.asarray([o.price for o in offers]),
        rules=rules,
    )
