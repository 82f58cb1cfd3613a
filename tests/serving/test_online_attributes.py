"""The cabinet and the manager's pages read a client's attributes from Redis: every column a
model learned from.

A ranker that learned from extra imported columns (an occupation code, the signup date) must
score a client in the cabinet (profile from the online store) exactly as evaluation and the
exports (the offline tables) score it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.settings import OnlineStoreSettings
from recommender.dataset import Dataset
from recommender.models import build_model
from recommender.nbo import portfolio_block
from recommender.ranking import ClientBlock
from serving.model_holder import LoadedModel
from serving.recommend import context_of
from serving.store_gateway import StoreGateway
from serving.web.portfolio import read_clients
from tests.feature_store.redis_server import RedisServer
from tests.recommender.models.test_ranker import FAST, industry_frames


def _items(item_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": item_ids, "name": item_ids, "kind": "addon", "price": 1.0, "margin": 0.3}
    )


def test_served_ranker_scores_equal_evaluated_scores(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    events, clients = industry_frames(n_clients=400, told_by="occupation", seed=3)
    days = np.random.default_rng(4).integers(0, 3000, len(clients))
    clients["signup_date"] = pd.Timestamp("2015-01-01", tz="UTC") + pd.to_timedelta(days, "D")
    dataset = Dataset.from_frames(events, clients)
    model = build_model("ranker", {**FAST, "use_client_features": True}).fit(dataset)
    spec = model.ranking_model().scorer.parts.spec  # type: ignore[attr-defined]
    assert "occupation" in dict(spec.categorical) and spec.dates == ("signup_date",)
    loaded = LoadedModel(model.export(), "1", "champion", datetime.now(UTC))

    if redis_server.process is None:
        redis_server.start()
    store = open_store(OnlineStoreSettings(redis_url=redis_server.url, data_dir=tmp_path))
    try:
        store.redis.flushdb()
        item_ids = [str(i) for i in loaded.servable.item_ids]
        write_snapshot(store, clients, _items(item_ids), events)
        rows = np.arange(0, len(clients), 7)
        evaluated = model.ranking_model().scorer.score(ClientBlock.from_dataset(dataset, rows))
        stripped = 0
        for n, row in enumerate(rows.tolist()):
            client_id = f"c{row}"
            state = store.get_client_state(client_id)
            ctx = context_of(loaded, client_id, state)
            assert ctx.profile["occupation"] == clients["occupation"].iat[row]
            served = loaded.ranking.scorer.score(ctx.block)
            np.testing.assert_array_equal(served.scores[0], evaluated.scores[n])
            # Without the extra columns (the profile as it was) the client scores differently.
            bare = {k: v for k, v in ctx.profile.items() if k not in ("occupation", "signup_date")}
            alone = ClientBlock.one(client_id, ctx.model_index, ctx.owned, bare)
            stripped += not np.array_equal(
                loaded.ranking.scorer.score(alone).scores[0], evaluated.scores[n]
            )
        assert stripped > 0
        # The manager's pages read the same profiles (every field) for a whole portfolio.
        clients_read, owned_read = read_clients(StoreGateway(store), [f"c{r}" for r in rows])
        block = portfolio_block(clients_read, owned_read, loaded.ranking)
        pages = loaded.ranking.scorer.score(block)
        np.testing.assert_array_equal(pages.scores, evaluated.scores)
    finally:
        store.redis.flushdb()
        store.redis.close()
