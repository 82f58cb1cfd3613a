"""Next-best offers for many clients at once: the ranking policy over a portfolio, with reasons.

For every client, the top-k offers of ``RankingPolicy.rank`` (the same call the client cabinet
makes for one client, so an export lists exactly what the API returns), each with its calibrated
probability, expected value (``price * margin * p``) and reasons; the client's opportunity is the
sum of those expected values. Clients are ranked a block at a time (``BLOCK_CLIENTS``), so the
ranking's buffers stay bounded whatever the portfolio's size; ``recommender.nbo_stream`` streams
a whole export (a chunk of clients read, ranked and written at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.explain import Explainer
from recommender.phrases import Speaker
from recommender.ranking import ClientBlock, RankedBlock, RankingModel, RankingPolicy, RankingRules
from recommender.ranking.policy import concat

#: Clients ranked (and explained) per step: bounds memory; one progress tick each.
BLOCK_CLIENTS = 20_000


def portfolio_block(clients: pd.DataFrame, owned: pd.DataFrame, model: RankingModel) -> ClientBlock:
    """Clients (``client_id`` + attributes) and owned pairs as a block for ``model``.

    Only a model with client factors scores a client by its index in the model; for the others
    (item-item, popularity) the index map, a dict over every training client, is not built.
    """
    known = model.client_index if model.servable.client_factors is not None else None
    return ClientBlock.from_frames(clients, owned, model.item_ids, known)


@dataclass(frozen=True, eq=False)
class NboResult:
    """The ranked portfolio (rows aligned with ``ranked.block``) and each offer's reasons."""

    ranked: RankedBlock
    reasons: list[list[tuple[str, ...]]] | None

    @property
    def block(self) -> ClientBlock:
        return self.ranked.block

    @property
    def items(self) -> np.ndarray:
        return self.ranked.items

    @property
    def probability(self) -> np.ndarray:
        return self.ranked.probability

    @property
    def value(self) -> np.ndarray:
        return self.ranked.value

    @property
    def expected_value(self) -> np.ndarray:
        return self.ranked.expected_value

    def order(self) -> np.ndarray:
        """Client rows by opportunity (expected value, high first; client id breaks ties)."""
        return self.ranked.by_opportunity()


def compute_nbo(
    model: RankingModel,
    block: ClientBlock,
    policy: RankingPolicy,
    rules: RankingRules | None = None,
    *,
    names: Mapping[str, str] | None = None,
    explain: bool = True,
    speaker: Speaker | None = None,
    progress: Callable[[int], None] | None = None,
) -> NboResult:
    """Top offers, expected values and (with ``explain``) reasons for every client, said by
    ``speaker`` (default: Russian, to the account manager)."""
    rules = rules or policy.rules()
    explainer = Explainer(model.servable) if explain else None
    speaker = speaker or Speaker(audience="manager")
    offer_names = [(names or {}).get(i, i) for i in model.item_ids]
    parts: list[RankedBlock] = []
    reasons: list[list[tuple[str, ...]]] = []
    for start in range(0, len(block), BLOCK_CLIENTS):
        part = block.slice(start, min(start + BLOCK_CLIENTS, len(block)))
        ranked = policy.rank(model, part, rules)
        parts.append(ranked)
        if explainer is not None:
            rows = explainer.popularity_row_indices(part.popularity_rows)
            owned = part.dense_owned(model.n_items)
            facts = explainer.explain(ranked.items, owned, rows)
            reasons.extend(explainer.say(facts, offer_names.__getitem__, speaker))
        if progress is not None:
            progress(len(part))
    if not parts:  # an empty portfolio
        parts = [policy.rank(model, block, rules)]
    return NboResult(concat(block, parts), reasons if explain else None)
