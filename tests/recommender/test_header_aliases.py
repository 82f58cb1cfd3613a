"""Header aliases: the most specific present one wins, and only for columns not named."""

from recommender.domain import EventType
from recommender.header_aliases import (
    EVENTS,
    HEADERS,
    KINDS,
    SHEETS,
    header_aliases,
    normalise,
)


def test_normalise_folds_case_spaces_and_yo() -> None:
    assert normalise("  Кол-во   Шт ") == "кол-во шт"
    assert normalise("Ёмкость") == "емкость"


def test_the_most_specific_alias_wins_and_named_columns_are_left_alone() -> None:
    headers = ["Клиент", "Код клиента", "Номенклатура", "Дата"]
    assert header_aliases("interactions", headers) == {
        "Код клиента": "client_id",
        "Номенклатура": "item_id",
        "Дата": "timestamp",
    }
    assert header_aliases("interactions", ["client_id", "Клиент", "Услуга"]) == {
        "Услуга": "item_id"
    }
    assert header_aliases("clients", ["item_id", "Услуга"]) == {}
    assert header_aliases("unknown", ["Клиент"]) == {}
    # a bare ID keys a clients or items table; in interactions it could be an event's id
    assert header_aliases("clients", ["ID", "sex"]) == {"ID": "client_id"}
    assert header_aliases("items", ["Id", "name"]) == {"Id": "item_id"}
    assert header_aliases("interactions", ["ID", "item_id"]) == {}
    english = ["Customer ID", "Customer", "Product Code", "Order Date", "Qty"]
    assert header_aliases("interactions", english) == {
        "Customer ID": "client_id",
        "Product Code": "item_id",
        "Order Date": "timestamp",
        "Qty": "value",
    }


def test_aliases_are_written_as_normalise_leaves_them() -> None:
    for columns in HEADERS.values():
        for aliases in columns.values():
            assert all(normalise(a) == a for a in aliases)
    assert all(normalise(k) == k for k in KINDS)
    assert set(KINDS.values()) == {"tariff", "course", "addon"}
    assert all(normalise(k) == k for k in EVENTS)
    assert set(EVENTS.values()) == {e.value for e in EventType}
    for table, sheets in SHEETS.items():
        assert table in HEADERS and all(normalise(n) == n for n in sheets)
