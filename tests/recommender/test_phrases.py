"""Reasons and labels in Russian (the default) and English, for the client or its manager."""

import pytest

from recommender.explain import Reason
from recommender.phrases import Speaker, field_label, group_label, pick_language, value_label

NAMES = ["Linux 1", "Резервное копирование", "Linux 2"]
KINDS = ("course", "addon", "course")


def test_group_labels_read_as_words() -> None:
    assert group_label("all", "en") == "clients"
    assert group_label("industry=healthcare", "en") == "healthcare clients"
    assert group_label("industry=it", "en") == "IT clients"
    assert group_label("industry=oil_gas", "en") == "oil gas clients"
    assert group_label("segment=B2G", "en") == "B2G clients"
    assert group_label("all") == "клиентов"
    assert group_label("industry=healthcare") == "клиентов отрасли «здравоохранение»"
    assert group_label("industry=oil_gas") == "клиентов отрасли «oil gas»"
    assert group_label("segment=B2G") == "клиентов сегмента B2G"


@pytest.mark.parametrize(
    ("speaker", "expected"),
    [
        (
            Speaker("ru", "client"),
            [
                "следующий шаг после курса «Linux 1»",
                "часто берут вместе с «Резервное копирование» (уже есть у вас)",
                "пользуются 63 % клиентов отрасли «здравоохранение»",
            ],
        ),
        (
            Speaker("ru", "manager"),
            [
                "следующий шаг после курса «Linux 1»",
                "часто берут вместе с «Резервное копирование» (уже есть у клиента)",
                "пользуются 63 % клиентов отрасли «здравоохранение»",
            ],
        ),
        (
            Speaker("en", "client"),
            [
                "next step after course Linux 1",
                "often used together with Резервное копирование, which you have",
                "used by 63 % of healthcare clients",
            ],
        ),
        (
            Speaker("en", "manager"),
            [
                "next step after course Linux 1",
                "often used together with Резервное копирование, which the client has",
                "used by 63 % of healthcare clients",
            ],
        ),
    ],
)
def test_reasons_speak_to_their_reader(speaker: Speaker, expected: list[str]) -> None:
    facts = [
        Reason("prerequisite", 0),
        Reason("together", 1),
        Reason("usage", row="industry=healthcare", share=0.63),
    ]
    assert [speaker.say(f, NAMES.__getitem__, KINDS) for f in facts] == expected


def test_labels_instead_of_field_names() -> None:
    assert field_label("size_band") == "Размер"
    assert field_label("manager_id", "en") == "Account manager"
    assert field_label("some_new_column", "en") == "Some new column"
    assert value_label("enterprise") == "корпорация"
    assert value_label("unknown_value") == "unknown value"


@pytest.mark.parametrize(
    ("chosen", "header", "expected"),
    [
        (None, None, "ru"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.5", "en"),
        (None, "en;q=0.4,ru;q=0.8", "ru"),
        (None, "ru-RU, en", "ru"),
        (None, "de, fr", "ru"),
        (None, "en;q=0", "ru"),
        (None, "en;q=abc", "ru"),
        ("en", "ru", "en"),
        ("xx", "en", "en"),
    ],
)
def test_language_from_choice_header_then_default(
    chosen: str | None, header: str | None, expected: str
) -> None:
    assert pick_language(chosen, header) == expected
