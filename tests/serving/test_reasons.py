"""Per-request reasons (serving) and batch reasons (exports) must say the same thing."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.explain import Explainer
from recommender.models.registry import build_model
from recommender.servable import ServableModel
from serving.model_holder import LoadedModel
from serving.reasons import reasons_for
from tests.recommender.test_explain import MODELS, fitted
from tests.serving.conftest import ITEMS, make_frames


def _loaded(servable: ServableModel) -> LoadedModel:
    return LoadedModel(servable, "1", "champion", datetime.now(UTC))


def _servable(name: str, model_dir: Path) -> ServableModel:
    if name == "als":  # the served bundle, through save and load
        return ServableModel.load(model_dir)
    clients, events = make_frames(seed=7)
    events["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC")
    return build_model(name).fit(Dataset.from_frames(events, clients, ITEMS)).export()


@pytest.mark.parametrize("name", MODELS)
def test_single_and_batch_reasons_agree(name: str, model_dir: Path) -> None:
    servable = _servable(name, model_dir)
    loaded = _loaded(servable)
    names_by_id = dict(zip(ITEMS["item_id"], ITEMS["name"], strict=True))
    names = [names_by_id[str(i)] for i in servable.item_ids]
    explainer = Explainer(servable, names)
    rng = np.random.default_rng(3)
    rows = ("industry=finance", "segment=B2B", "all")
    seen: set[str] = set()
    for _ in range(20):
        owned = np.sort(rng.choice(servable.n_items, size=4, replace=False))
        items = np.array([i for i in range(servable.n_items) if i not in owned][:6])
        dense = np.zeros((1, servable.n_items), dtype=bool)
        dense[0, owned] = True
        batch = explainer.explain(items[None, :], dense, explainer.popularity_row_indices([rows]))
        for j, item in enumerate(items):
            single = reasons_for(loaded, int(item), owned, rows, lambda i: names[i])
            assert tuple(single) == batch[0][j]
            seen.update(reason.split(" ")[0] for reason in single)
    assert seen >= {"next", "often", "used"}  # every kind of reason was compared


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    ("owned", "partner"),
    [
        (["hub", "a"], "a"),
        (["d", "c", "a"], "a"),
        (["d", "c"], "d"),
        (["hub", "c"], None),
        (["hub"], None),
        (["x"], None),
    ],
)
def test_serving_says_used_together_exactly_when_backed(
    name: str, owned: list[str], partner: str | None
) -> None:
    servable = fitted(name)
    index = {str(i): n for n, i in enumerate(servable.item_ids)}
    reasons = reasons_for(
        _loaded(servable),
        index["b"],
        np.array(sorted(index[o] for o in owned)),
        ("all",),
        lambda i: str(servable.item_ids[i]),
    )
    together = [r for r in reasons if r.startswith("often used together")]
    assert together == (
        [] if partner is None else [f"often used together with {partner}, which you have"]
    )
    assert "used by 50 % of clients" in reasons  # owners of b only, not its viewers
