"""Per-request reasons (serving) and batch reasons (exports) must say the same thing."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from recommender.explain import Explainer
from recommender.servable import ServableModel
from serving.model_holder import LoadedModel
from serving.reasons import reasons_for
from tests.serving.conftest import ITEMS


def test_single_and_batch_reasons_agree(model_dir: Path) -> None:
    servable = ServableModel.load(model_dir)
    loaded = LoadedModel(servable, "1", "champion", datetime.now(UTC))
    names_by_id = dict(zip(ITEMS["item_id"], ITEMS["name"], strict=True))
    names = [names_by_id[str(i)] for i in servable.item_ids]
    explainer = Explainer(servable, names)
    rng = np.random.default_rng(3)
    rows = ("industry=finance", "segment=B2B", "all")
    checked = 0
    for _ in range(20):
        owned = np.sort(rng.choice(servable.n_items, size=4, replace=False))
        items = np.array([i for i in range(servable.n_items) if i not in owned][:6])
        dense = np.zeros((1, servable.n_items), dtype=bool)
        dense[0, owned] = True
        batch = explainer.explain(items[None, :], dense, explainer.popularity_row_indices([rows]))
        for j, item in enumerate(items):
            single = reasons_for(loaded, int(item), owned, rows, lambda i: names[i])
            assert tuple(single) == batch[0][j]
            checked += bool(single)
    assert checked > 0
