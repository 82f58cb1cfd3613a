"""Scoring: a ``ServableModel`` and a block of clients in, raw scores of every offer out.

``scorer_for`` is the one place that maps a bundle's scoring mode to the class that scores it;
everything downstream (ranking policy, serving, evaluation, exports) calls the scorer's methods.
"""

from __future__ import annotations

from recommender.scoring.base import (
    FEATURES,
    OWNED_OFFERS,
    PERSONAL,
    POPULARITY,
    SOURCES,
    BlockScores,
    PopularityScorer,
    Scorer,
)
from recommender.scoring.factors import FactorsScorer
from recommender.scoring.item_item import ItemItemScorer
from recommender.scoring.ranker import RankerScorer
from recommender.servable import ServableModel

SCORERS: dict[str, type[Scorer]] = {
    "factors": FactorsScorer,
    "item_item": ItemItemScorer,
    "popularity": PopularityScorer,
    "ranker": RankerScorer,
}


def scorer_for(model: ServableModel) -> Scorer:
    """The scorer of ``model``'s scoring mode; ``ValueError`` for a mode nothing scores."""
    try:
        cls = SCORERS[model.mode]
    except KeyError:
        raise ValueError(
            f"model {model.name!r}: unsupported scoring mode {model.mode!r} "
            f"(known: {', '.join(SCORERS)})"
        ) from None
    return cls(model)


__all__ = [
    "FEATURES",
    "OWNED_OFFERS",
    "PERSONAL",
    "POPULARITY",
    "SCORERS",
    "SOURCES",
    "BlockScores",
    "FactorsScorer",
    "ItemItemScorer",
    "PopularityScorer",
    "RankerScorer",
    "Scorer",
    "scorer_for",
]
