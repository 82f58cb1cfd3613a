"""Public data sets an evaluation runs on: MovieLens-100k and generated data.

The offline store is read by the CLI (``recommender`` does not import ``feature_store``).
"""

from __future__ import annotations

import os

from recommender.dataset import Dataset
from recommender.feedback import FeedbackConfig


def movielens_dataset(path: str | os.PathLike[str] | None = None) -> Dataset:
    """MovieLens-100k as a ``Dataset`` (every rating is a positive, as in the MS protocol).

    Rows keep the order of ``u.data``, which the stratified split's seeding depends on.
    """
    from recommender.movielens import (
        ML100K_CLIENT_FEATURES,
        ML100K_ITEM_FEATURES,
        load_movielens_100k,
    )

    interactions, clients, items = load_movielens_100k(path)
    return Dataset.from_frames(
        interactions,
        clients,
        items,
        feedback=FeedbackConfig(binary=True),
        client_feature_columns=ML100K_CLIENT_FEATURES,
        item_feature_columns=ML100K_ITEM_FEATURES,
    )


def synthetic_dataset(n_clients: int = 2_000, seed: int = 7) -> Dataset:
    """Generated clients, catalog and two years of events."""
    from recommender.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_clients=n_clients, seed=seed))
    return Dataset.from_frames(data.interactions, data.clients, data.items)
