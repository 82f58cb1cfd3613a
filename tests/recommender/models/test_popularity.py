import numpy as np
import pytest

from recommender.catalog import popularity_table
from recommender.models import build_model
from recommender.ranking import ClientBlock, RankingRules
from recommender.scoring import scorer_for
from tests.recommender.models.contract import ModelContract, checkerboard_dataset


class TestPopularity(ModelContract):
    model_name = "popularity"
    personalized = False


class TestSegmentPopularity(ModelContract):
    model_name = "segment_popularity"
    personalized = False


class TestIndustryPopularity(ModelContract):
    model_name = "industry_popularity"
    personalized = False


def _top(scores: np.ndarray, owned: set[int], k: int) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [i for i in order if i not in owned][:k]


@pytest.mark.parametrize(
    ("name", "column"), [("segment_popularity", "segment"), ("popularity", None)]
)
def test_lists_follow_the_groups_popularity(name: str, column: str | None) -> None:
    ds = checkerboard_dataset()
    model = build_model(name).fit(ds)
    table, names = popularity_table(ds, () if column is None else (column,))
    recs = model.recommend(
        ds, np.arange(ds.n_clients), k=3, rules=RankingRules(k=3, check_eligibility=False)
    )
    for client, row in enumerate(recs):
        key = "all" if column is None else f"{column}={ds.clients[column].iat[client]}"
        owned = set(ds.interactions[client].indices.tolist())
        assert row.tolist() == _top(table[names.index(key)], owned, 3)


def test_new_client_gets_its_segment_list_from_features() -> None:
    servable = build_model("segment_popularity").fit(checkerboard_dataset()).export()
    block = ClientBlock.one(None, None, np.array([], dtype=np.int64), {"segment": "B2G", "x": 1})
    scores = scorer_for(servable).score(block).scores[0]
    np.testing.assert_array_equal(
        scores, servable.popularity[servable.segment_names.index("segment=B2G")]
    )
