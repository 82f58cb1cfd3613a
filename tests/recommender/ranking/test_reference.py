import numpy as np
import pytest

from recommender.catalog import catalog_arrays
from recommender.dataset import Dataset
from recommender.ranking import RankingRules, rank_reference


def _rank(ds: Dataset, client: str, rules: RankingRules, scores: np.ndarray | None = None):
    cat = catalog_arrays(ds)
    c = ds.client_ids.to_internal(client)
    owned = ds.interactions[c].indices
    segment = ds.clients.iloc[c]["segment"]
    scores = np.arange(ds.n_items, 0, -1, dtype=np.float32) if scores is None else scores
    idx, _ = rank_reference(scores, owned, cat, segment, rules)
    return list(ds.item_ids.to_external(idx))


def test_rules_mask_owned_family_prereq_and_eligibility(rules_dataset: Dataset) -> None:
    # c1 (B2B) holds sup_basic: premium support is in the same family, gov_only is B2G only,
    # course_b needs course_a first.
    assert _rank(rules_dataset, "c1", RankingRules(k=10)) == ["course_a", "backup"]
    # c2 (B2G) took course_a and backup but holds no support tariff.
    assert _rank(rules_dataset, "c2", RankingRules(k=10)) == [
        "sup_basic",
        "sup_premium",
        "course_b",
        "gov_only",
    ]


def test_kind_filter_quota_and_ties(rules_dataset: Dataset) -> None:
    assert _rank(rules_dataset, "c2", RankingRules(k=10, kinds=frozenset({"tariff"}))) == [
        "sup_basic",
        "sup_premium",
    ]
    assert _rank(rules_dataset, "c2", RankingRules(k=10, max_per_kind=1)) == [
        "sup_basic",
        "course_b",
        "gov_only",
    ]
    ties = np.ones(rules_dataset.n_items, dtype=np.float32)
    assert _rank(rules_dataset, "c2", RankingRules(k=2), ties) == ["sup_basic", "sup_premium"]


def test_rules_validate() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        RankingRules(k=0)
    with pytest.raises(ValueError, match="unknown offer kind"):
        RankingRules(kinds=frozenset({"pizza"}))
