import numpy as np

from recommender.catalog import ELIGIBLE_B2B, ELIGIBLE_B2G, catalog_arrays, popularity_table
from recommender.dataset import Dataset


def test_catalog_arrays_encode_rules(rules_dataset: Dataset) -> None:
    cat = catalog_arrays(rules_dataset)
    idx = rules_dataset.item_ids.to_internal
    assert cat.kind_names[cat.kind[idx("course_a")]] == "course"
    assert cat.family[idx("sup_basic")] == cat.family[idx("sup_premium")] >= 0
    assert cat.family[idx("backup")] == -1
    assert cat.eligibility[idx("gov_only")] == ELIGIBLE_B2G
    assert cat.eligibility[idx("backup")] == ELIGIBLE_B2B | ELIGIBLE_B2G
    b = idx("course_b")
    prereqs = cat.prereq_indices[cat.prereq_indptr[b] : cat.prereq_indptr[b + 1]]
    assert list(prereqs) == [idx("course_a")]
    assert cat.price[idx("sup_premium")] == np.float32(300.0)


def test_popularity_table_rows(rules_dataset: Dataset) -> None:
    table, names = popularity_table(rules_dataset)
    assert names[0] == "all"
    assert "segment=B2G" in names and "industry=finance" in names
    idx = rules_dataset.item_ids.to_internal
    gov = table[names.index("segment=B2G")]
    assert gov[idx("backup")] == 1.0 and gov[idx("sup_basic")] == 0.0
    assert table[0][idx("sup_basic")] == 0.5
