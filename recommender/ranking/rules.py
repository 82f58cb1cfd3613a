"""Business rules of a ranking request, and the static part of the mask they imply."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from recommender.catalog import ELIGIBLE_B2B, ELIGIBLE_B2G
from recommender.domain import ItemKind, Segment
from recommender.servable import CatalogArrays

_SEGMENT_BITS = {Segment.B2B.value: ELIGIBLE_B2B, Segment.B2G.value: ELIGIBLE_B2G}
TARIFF_CODE = 0  # index of ItemKind.TARIFF in recommender.catalog.KIND_NAMES


@dataclass(frozen=True)
class RankingRules:
    """What one ranking request may return.

    ``kinds``: allowed offer kinds (None: all). ``max_per_kind``: diversity quota, at most this
    many offers of one kind in the list (0: no quota). The remaining flags switch the catalog
    rules off, e.g. for offline evaluation on data without a catalog.
    """

    k: int = 10
    kinds: frozenset[str] | None = None
    max_per_kind: int = 0
    exclude_owned: bool = True
    check_eligibility: bool = True
    check_prerequisites: bool = True
    one_tariff_per_family: bool = True
    # rules key the kernels' plan cache on every request: hash once, not per look-up
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.max_per_kind < 0:
            raise ValueError(f"max_per_kind must be >= 0, got {self.max_per_kind}")
        if self.kinds is not None:
            unknown = set(self.kinds) - {k.value for k in ItemKind}
            if unknown:
                raise ValueError(f"unknown offer kind(s): {sorted(unknown)}")
        values = tuple(getattr(self, f.name) for f in fields(self) if f.compare)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:
        return self._hash


def allowed_mask(catalog: CatalogArrays, segment: str | None, rules: RankingRules) -> np.ndarray:
    """Items allowed before looking at what the client owns: kind filter and eligibility.

    An unknown or missing segment passes eligibility only for offers open to both segments.
    """
    allowed = np.ones(len(catalog.kind), dtype=np.bool_)
    if rules.kinds is not None:
        codes = [catalog.kind_names.index(kind) for kind in rules.kinds]
        allowed &= np.isin(catalog.kind, codes)
    if rules.check_eligibility:
        bits = _SEGMENT_BITS.get(str(segment), ELIGIBLE_B2B | ELIGIBLE_B2G)
        allowed &= (catalog.eligibility & bits) == bits
    return allowed
