"""The cabinet (one client per request) and exports (a portfolio) give the same reasons."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.models.registry import build_model
from recommender.nbo import compute_nbo, portfolio_block
from recommender.phrases import Speaker
from recommender.ranking import RankingPolicy
from recommender.servable import ServableModel
from serving.model_holder import LoadedModel
from serving.recommend import ClientContext, Narrator, rank
from tests.recommender.test_explain import MODELS
from tests.serving.conftest import ITEMS, make_frames


def _servable(name: str, model_dir: Path) -> ServableModel:
    if name == "als":  # the served bundle, through save and load
        return ServableModel.load(model_dir)
    clients, events = make_frames(seed=7)
    events["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC")
    return build_model(name).fit(Dataset.from_frames(events, clients, ITEMS)).export()


@pytest.mark.parametrize("speaker", [Speaker("ru", "manager"), Speaker("en", "client")])
@pytest.mark.parametrize("name", MODELS)
def test_one_client_and_portfolio_reasons_agree(
    name: str, speaker: Speaker, model_dir: Path
) -> None:
    loaded = LoadedModel(_servable(name, model_dir), "1", "champion", datetime.now(UTC))
    names = dict(zip(ITEMS["item_id"], ITEMS["name"], strict=True))
    policy = RankingPolicy(4)
    rules = policy.rules(6)
    rng = np.random.default_rng(3)
    item_ids = [str(i) for i in loaded.servable.item_ids]
    clients = pd.DataFrame(
        {
            "client_id": [f"p{n}" for n in range(20)],
            "industry": rng.choice(["finance", "healthcare", "retail"], size=20),
            "segment": "B2B",
        }
    )
    owned = pd.DataFrame(
        [(c, item_ids[i]) for c in clients["client_id"] for i in rng.choice(len(item_ids), 4)],
        columns=["client_id", "item_id"],
    ).drop_duplicates()
    batch = compute_nbo(
        loaded.ranking,
        portfolio_block(clients, owned, loaded.ranking),
        policy,
        rules,
        names=names,
        speaker=speaker,
    )
    assert batch.reasons is not None
    narrator = Narrator(lambda i: names[item_ids[i]], speaker)
    words: set[str] = set()
    for row, profile in enumerate(clients.to_dict("records")):
        mine = owned.loc[owned["client_id"] == profile["client_id"], "item_id"]
        indices = np.array(sorted(item_ids.index(i) for i in mine), dtype=np.int64)
        ctx = ClientContext(profile["client_id"], None, indices, profile, degraded=False)
        one = rank(loaded, ctx, rules, policy, narrator)
        assert [o.item_index for o in one.offers] == batch.ranked.row(row).tolist()
        assert [o.reasons for o in one.offers] == batch.reasons[row]
        words.update(r.split(" ")[0] for o in one.offers for r in o.reasons)
    first = {"ru": {"следующий", "часто", "пользуются"}, "en": {"next", "often", "used"}}
    assert words >= first[speaker.language]  # every kind of reason was compared
