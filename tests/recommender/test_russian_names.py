"""Russian headers: the most specific present alias wins, and only for columns not named."""

from recommender.russian_names import HEADERS, KINDS, normalise, russian_headers


def test_normalise_folds_case_spaces_and_yo() -> None:
    assert normalise("  Кол-во   Шт ") == "кол-во шт"
    assert normalise("Ёмкость") == "емкость"


def test_the_most_specific_alias_wins_and_named_columns_are_left_alone() -> None:
    headers = ["Клиент", "Код клиента", "Номенклатура", "Дата"]
    assert russian_headers("interactions", headers) == {
        "Код клиента": "client_id",
        "Номенклатура": "item_id",
        "Дата": "timestamp",
    }
    assert russian_headers("interactions", ["client_id", "Клиент", "Услуга"]) == {
        "Услуга": "item_id"
    }
    assert russian_headers("clients", ["item_id", "Услуга"]) == {}
    assert russian_headers("unknown", ["Клиент"]) == {}


def test_aliases_are_written_as_normalise_leaves_them() -> None:
    for columns in HEADERS.values():
        for aliases in columns.values():
            assert all(normalise(a) == a for a in aliases)
    assert all(normalise(k) == k for k in KINDS)
    assert set(KINDS.values()) == {"tariff", "course", "addon"}
