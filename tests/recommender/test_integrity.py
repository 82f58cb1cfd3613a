"""Cross-table checks: unknown ids and duplicates are counted and reported, never dropped."""

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from recommender.integrity import ImportReport, check_integrity
from recommender.schema import DataValidationError, Source, validate_table

SOURCES = {
    "items": Source("items.csv", 1),
    "clients": Source("clients.csv", 1),
    "interactions": Source("interactions.csv", 1),
}


def items(**overrides: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "item_id": ["i1", "i2", "i3"],
        "name": ["One", "Two", "Three"],
        "kind": ["tariff", "course", "addon"],
        "price": ["10", "20", "30"],
        "prerequisites": ["", "i1", ""],
    }
    data.update(overrides)
    return validate_table(pd.DataFrame(data), "items", source=SOURCES["items"])


def clients() -> pd.DataFrame:
    frame = pd.DataFrame({"client_id": ["c1", "c2"], "industry": ["it", "energy"]})
    return validate_table(frame.assign(segment="B2B"), "clients", source=SOURCES["clients"])


def interactions(rows: Sequence[tuple[str, ...]]) -> pd.DataFrame:
    columns = ["client_id", "item_id", "event_type", "timestamp", "event_id"][: len(rows[0])]
    frame = pd.DataFrame(rows, columns=columns)
    return validate_table(frame, "interactions", source=SOURCES["interactions"])


def check(
    tables: dict[str, pd.DataFrame], on_unknown: Any = "error"
) -> tuple[dict[str, pd.DataFrame], ImportReport]:
    return check_integrity(tables, on_unknown=on_unknown, sources=SOURCES)


GOOD = [("c1", "i1", "purchase", "2024-01-01"), ("c2", "i2", "enrolment", "2024-01-02")]


def test_clean_tables_pass_unchanged() -> None:
    tables, report = check(
        {"items": items(), "clients": clients(), "interactions": interactions(GOOD)}
    )
    assert report.problems == {}
    assert report.rows_kept == {"items": 3, "clients": 2, "interactions": 2}
    assert report.skipped == 0
    assert tables["interactions"].index.tolist() == [0, 1]


def test_unknown_ids_abort_by_default_naming_row_and_column() -> None:
    rows = [*GOOD, ("c9", "i1", "purchase", "2024-01-03"), ("c1", "i9", "view", "2024-01-04")]
    with pytest.raises(DataValidationError) as info:
        check({"items": items(), "clients": clients(), "interactions": interactions(rows)})
    message = str(info.value)
    assert "interactions.csv row 3 (line 4), column 'client_id': unknown client 'c9'" in message
    assert "interactions.csv row 4 (line 5), column 'item_id': unknown item 'i9'" in message
    assert "--on-unknown skip" in message


def test_unknown_ids_skipped_and_counted() -> None:
    rows = [*GOOD, ("c9", "i1", "purchase", "2024-01-03"), ("c9", "i9", "view", "2024-01-04")]
    tables, report = check(
        {"items": items(), "clients": clients(), "interactions": interactions(rows)}, "skip"
    )
    assert report.problems == {"unknown_client_id": 2, "unknown_item_id": 1}
    assert report.rows_read["interactions"] == 4
    assert report.rows_kept["interactions"] == 2
    assert report.skipped == 2
    assert "row 4 (line 5)" in report.examples["unknown_item_id"][0]
    assert set(tables["interactions"]["client_id"]) == {"c1", "c2"}


def test_ids_checked_only_against_present_tables() -> None:
    rows = [("c9", "i1", "purchase", "2024-01-03")]
    _, report = check({"items": items(), "interactions": interactions(rows)})
    assert report.problems == {}


def test_duplicate_interactions_are_skipped_and_counted() -> None:
    rows = [*GOOD, GOOD[0], ("c1", "i1", "purchase", "2024-01-01T00:00:00+00:00")]
    tables, report = check({"interactions": interactions(rows)})
    assert report.problems == {"duplicate_interactions": 2}
    assert len(tables["interactions"]) == 2
    assert "interactions.csv row 3 (line 4)" in report.examples["duplicate_interactions"][0]


def test_event_ids_decide_duplicates_when_given() -> None:
    rows = [
        ("c1", "i1", "purchase", "2024-01-01", "e1"),
        ("c1", "i1", "purchase", "2024-01-01", "e2"),  # same natural key, other event: kept
        ("c1", "i1", "purchase", "2024-01-01", "e1"),  # exact repeat: skipped
    ]
    tables, report = check({"interactions": interactions(rows)})
    assert tables["interactions"]["event_id"].tolist() == ["e1", "e2"]
    assert report.problems == {"duplicate_interactions": 1}


def test_same_event_id_with_other_values_is_an_error() -> None:
    rows = [("c1", "i1", "purchase", "2024-01-01", "e1"), ("c2", "i2", "view", "2024-01-02", "e1")]
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'event_id': 'e1'"):
        check({"interactions": interactions(rows)})


def test_exact_duplicate_items_skipped_conflicting_ids_rejected() -> None:
    dup = items(item_id=["i1", "i2", "i1"], name=["One", "Two", "One"], prerequisites=["", "", ""])
    with pytest.raises(DataValidationError, match=r"row 3 .*column 'item_id': duplicate id 'i1'"):
        check({"items": dup})  # same id, other kind and price
    exact = validate_table(
        pd.concat([items().head(1)] * 2, ignore_index=True), "items", source=SOURCES["items"]
    )
    tables, report = check({"items": exact})
    assert report.problems == {"duplicate_items": 1}
    assert len(tables["items"]) == 1


def test_prerequisites_to_unknown_items() -> None:
    bad = items(prerequisites=["", "i1;ghost", "nothing"])
    with pytest.raises(DataValidationError) as info:
        check({"items": bad})
    message = str(info.value)
    assert "items.csv row 2 (line 3), column 'prerequisites': unknown item(s) 'ghost'" in message
    assert "row 3 (line 4)" in message
    tables, report = check({"items": bad}, "skip")
    assert report.problems == {"unknown_prerequisites": 2}
    assert tables["items"]["prerequisites"].tolist() == [[], ["i1"], []]


def test_clients_without_an_industry_are_kept_and_counted() -> None:
    frame = pd.DataFrame({"client_id": ["c1", "c2", "c3"], "industry": ["it", "", None]})
    blank = validate_table(frame, "clients", source=SOURCES["clients"])
    tables, report = check({"clients": blank})
    assert report.rows_kept == {"clients": 3}
    assert report.problems == {"clients_without_industry": 2}
    assert report.examples["clients_without_industry"][0] == (
        "clients.csv row 2 (line 3), column 'industry': no industry (kept)"
    )
    assert tables["clients"]["industry"].isna().tolist() == [False, True, True]


def test_a_client_named_by_its_unique_name_is_read_as_its_id() -> None:
    named = clients().assign(name=["ООО Ромашка", "ООО Лютик"])
    rows = [("ООО  ромашка", "i1", "purchase", "2024-01-01"), ("c2", "i2", "view", "2024-01-02")]
    tables, report = check({"items": items(), "clients": named, "interactions": interactions(rows)})
    assert tables["interactions"]["client_id"].tolist() == ["c1", "c2"]
    assert report.problems == {"client_names_as_ids": 1}
    assert report.examples["client_names_as_ids"] == [
        "interactions.csv row 1 (line 2), client 'ООО  ромашка' is named by its name: read as "
        "client_id 'c1'"
    ]
    twins = clients().assign(name=["ООО Ромашка", "ООО Ромашка"])
    with pytest.raises(DataValidationError, match="unknown client 'ООО  ромашка'"):
        check({"clients": twins, "interactions": interactions(rows)})


def test_offers_without_a_kind_or_a_price_are_read_as_add_ons_at_zero_and_counted() -> None:
    bare = items(kind=["tariff", "", None], price=["10", None, "30"])
    tables, report = check({"items": bare})
    assert tables["items"]["kind"].tolist() == ["tariff", "addon", "addon"]
    assert tables["items"]["price"].tolist() == [10.0, 0.0, 30.0]
    assert report.problems == {"items_without_kind": 2, "items_without_price": 1}
    assert report.examples["items_without_price"] == [
        "items.csv row 2 (line 3), offer i2: no price, read as 0.0"
    ]
    listed = validate_table(pd.DataFrame({"item_id": ["p1"], "name": ["Backup"]}), "items")
    tables, report = check({"items": listed})
    assert tables["items"][["kind", "price"]].iloc[0].tolist() == ["addon", 0.0]
    assert report.problems == {"items_without_kind": 1, "items_without_price": 1}


def test_an_offer_named_by_its_unique_name_is_read_as_its_id() -> None:
    catalogue = items(name=["One", "Shared", "Shared"])
    rows = [
        ("c1", "One", "purchase", "2024-01-01"),
        ("c2", "i2", "purchase", "2024-01-01"),
        ("c2", "One", "purchase", "2024-01-02"),
    ]
    tables, report = check(
        {"items": catalogue, "clients": clients(), "interactions": interactions(rows)}
    )
    assert tables["interactions"]["item_id"].tolist() == ["i1", "i2", "i1"]
    assert report.problems == {"item_names_as_ids": 2}
    assert report.examples["item_names_as_ids"][0] == (
        "interactions.csv row 1 (line 2), offer 'One' is named by its name: read as item_id 'i1'"
    )
    with pytest.raises(DataValidationError, match="unknown item 'Shared'"):
        check(
            {
                "items": catalogue,
                "interactions": interactions([("c1", "Shared", "view", "2024-01-01")]),
            }
        )
    # an id wins over another offer's name
    named_like_an_id = items(name=["i2", "Two", "Three"])
    tables, report = check({"items": named_like_an_id, "interactions": interactions(rows[1:2])})
    assert tables["interactions"]["item_id"].tolist() == ["i2"]
    assert report.problems == {}


def test_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="on_unknown"):
        check({"items": items()}, "drop")
