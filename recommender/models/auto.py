"""Capacity and regularisation that fit the data: chosen on a validation split when not given.

A factor model with as many components as a client has offers learns each client's row exactly
and pushes everything it does not own down; on a catalogue of ~20 offers with two owned per
client that ranks the hidden offer below plain popularity (COIL 2000: ALS HR@1 0.07 with 4
factors, 0.70 with 2). What fits depends on the catalogue and on how much each client owns, so
a config field left unset (``None``) is chosen here instead of by a fixed default.

``choose`` hides one owned offer of every client with two or more (the snapshot protocol, seeded
by the config's seed; it works on time-stamped data too), fits each candidate on the rest and
keeps the one with the best NDCG@10 of the hidden offers (ties: the earlier, simpler candidate).
Candidates that differ only in the model's ``scoring_fields`` share one fit, and the choices of
one fit (EASE's follow-up choices) share one split (``Recommender.validation_split``).
With too few clients to validate on, the first candidate of each field is used. The choice and
the validation table go into the exported bundle's metadata (``auto_config``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Dataset

if TYPE_CHECKING:
    from recommender.models.base import Recommender

#: Fewest validation clients for a choice; below it the first candidates are used.
MIN_VALIDATION_CLIENTS = 20
#: Most validation clients scored per candidate (a seeded sample), to bound the cost.
MAX_VALIDATION_CLIENTS = 3000
K = 10


@dataclass(frozen=True)
class AutoChoice:
    """What was chosen for the unset fields, and every candidate's validation NDCG@10."""

    chosen: dict[str, Any]
    table: tuple[tuple[dict[str, Any], float], ...]
    n_clients: int

    def metadata(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "validation_clients": self.n_clients,
            "validation_ndcg_at_10": [
                {**params, "ndcg": round(score, 5)} for params, score in self.table
            ],
        }


def max_factors(dataset: Dataset) -> int:
    """Most latent factors worth trying: a quarter of the catalogue, at least 2."""
    return max(2, dataset.n_items // 4)


def capped(values: Sequence[int], limit: int) -> tuple[int, ...]:
    """``values`` not above ``limit`` (``limit`` itself when none is)."""
    kept = tuple(v for v in values if v <= limit)
    return kept or (limit,)


@dataclass(frozen=True, eq=False)
class ValidationSplit:
    """The validation protocol's split of ``source``: what the model is fitted on, the hidden
    offers, and the clients scored (a seeded sample of at most ``MAX_VALIDATION_CLIENTS``)."""

    source: Dataset
    seed: int
    train: Dataset
    truth: sp.csr_matrix
    clients: np.ndarray

    def of(self, dataset: Dataset, seed: int) -> bool:
        """Is this the split of ``dataset`` with ``seed``?"""
        return self.source is dataset and self.seed == seed


def validation_split(dataset: Dataset, seed: int) -> ValidationSplit:
    """``dataset`` with one owned offer of every client with two or more hidden (seeded)."""
    from recommender.evaluation.splits import evaluated_clients, relevance, snapshot_split

    train, test = snapshot_split(dataset, seed=seed)
    truth = relevance(train, test)
    clients = evaluated_clients(truth)
    if len(clients) > MAX_VALIDATION_CLIENTS:
        rng = np.random.default_rng(seed)
        clients = np.sort(rng.choice(clients, MAX_VALIDATION_CLIENTS, replace=False))
    return ValidationSplit(dataset, seed, train, truth, clients)


def choose(model: Recommender, dataset: Dataset, grid: Mapping[str, Sequence[Any]]) -> AutoChoice:
    """The best combination of ``grid`` (field -> candidates) for ``model`` on ``dataset``, on
    the model's validation split (made only when there is a choice to make, once per fit)."""
    from recommender.evaluation.metrics import ranking_metrics_per_client

    # fields that need a refit first, so that candidates sharing a fit come one after another
    names = [n for n in grid if n not in model.scoring_fields]
    refit = len(names)
    names += [n for n in grid if n in model.scoring_fields]
    grid = {n: grid[n] for n in names}
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
    first = combos[0]
    if len(combos) == 1:
        return AutoChoice(first, ((first, float("nan")),), 0)
    split = model.validation_split(dataset)
    train, truth, clients = split.train, split.truth, split.clients
    if len(clients) < MIN_VALIDATION_CLIENTS:
        return AutoChoice(first, ((first, float("nan")),), len(clients))
    table: list[tuple[dict[str, Any], float]] = []
    fitted: tuple[tuple[Any, ...], Recommender] | None = None
    for combo in combos:
        key = tuple(combo[n] for n in names[:refit])
        if fitted is None or fitted[0] != key:
            fitted = key, type(model)(model.config.model_copy(update=combo)).fit(train)
        candidate = fitted[1].rescored({n: combo[n] for n in names[refit:]})
        recs = candidate.recommend(train, clients, k=K)
        ndcg = ranking_metrics_per_client(recs, truth[clients], K)["ndcg"].mean()
        table.append((combo, float(ndcg)))
    best = max(range(len(table)), key=lambda i: (table[i][1], -i))
    return AutoChoice(table[best][0], tuple(table), len(clients))
