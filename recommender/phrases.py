"""What the service says, in Russian (the default) or English, to the one who reads it.

Reasons are computed once, as facts (``recommender.explain.Reason``), and said here: to the
client in its cabinet ("which you have") or to the account manager about the client ("which the
client has"). Labels of data values (industries, segments, size bands, offer kinds, loyalty
tiers) live here too, so pages, exports and reasons name things the same way.

A language is chosen by ``pick_language`` from an explicit choice, the request's
``Accept-Language`` header, then the configured default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from recommender.explain import Reason

Language = Literal["ru", "en"]
Audience = Literal["client", "manager"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "ru"

#: Data values as words, per language ("industry=it" -> "IT"). Unknown values are shown as
#: they are, underscores as spaces.
_VALUES: dict[Language, dict[str, str]] = {
    "ru": {
        "government": "госсектор",
        "education": "образование",
        "healthcare": "здравоохранение",
        "finance": "финансы",
        "manufacturing": "промышленность",
        "retail": "розничная торговля",
        "energy": "энергетика",
        "transport": "транспорт",
        "it": "IT",
        "municipal_services": "муниципальные службы",
        "telecom": "телеком",
        "construction": "строительство",
        "micro": "микро",
        "small": "малый",
        "medium": "средний",
        "large": "крупный",
        "enterprise": "корпорация",
        "bronze": "бронзовый",
        "silver": "серебряный",
        "gold": "золотой",
        "platinum": "платиновый",
        "tariff": "тариф",
        "course": "курс",
        "addon": "услуга",
    },
    "en": {"it": "IT", "municipal_services": "municipal services", "addon": "add-on"},
}

#: "After <kind> X": the kind in the case the phrase needs.
_AFTER_KIND: dict[Language, dict[str, str]] = {
    "ru": {"tariff": "тарифа", "course": "курса", "addon": "услуги"},
    "en": {"addon": "add-on"},
}

#: Column names as labels (pages and exports show these, not ``size_band``).
_FIELDS: dict[Language, dict[str, str]] = {
    "ru": {
        "client_id": "Клиент",
        "name": "Название",
        "industry": "Отрасль",
        "segment": "Сегмент",
        "size_band": "Размер",
        "region": "Регион",
        "manager_id": "Менеджер",
        "loyalty_tier": "Уровень лояльности",
        "crm_loyalty_tier": "Уровень в CRM",
        "annual_spend": "Годовые расходы, ₽",
        "expected_value": "Ожидаемая выручка, ₽",
        "offer": "Предложение",
        "kind": "Тип",
        "probability": "Вероятность",
        "reasons": "Почему",
    },
    "en": {
        "client_id": "Client",
        "name": "Name",
        "industry": "Industry",
        "segment": "Segment",
        "size_band": "Size",
        "region": "Region",
        "manager_id": "Account manager",
        "loyalty_tier": "Loyalty tier",
        "crm_loyalty_tier": "Tier in CRM",
        "annual_spend": "Yearly spend, ₽",
        "expected_value": "Expected revenue, ₽",
        "offer": "Offer",
        "kind": "Kind",
        "probability": "Probability",
        "reasons": "Why",
    },
}


def value_label(value: str, language: Language = DEFAULT_LANGUAGE) -> str:
    """A data value as a word: ``healthcare`` -> "здравоохранение" / "healthcare"."""
    return _VALUES[language].get(value, value.replace("_", " "))


def field_label(field: str, language: Language = DEFAULT_LANGUAGE) -> str:
    """A column name as a label: ``size_band`` -> "Размер" / "Size"."""
    return _FIELDS[language].get(field, field.replace("_", " ").capitalize())


def group_label(row: str, language: Language = DEFAULT_LANGUAGE) -> str:
    """A usage row as a group of clients: ``industry=healthcare`` -> "клиентов отрасли
    «здравоохранение»" / "healthcare clients"; ``all`` -> "клиентов" / "clients"."""
    if row == "all":
        return "клиентов" if language == "ru" else "clients"
    field, _, value = row.partition("=")
    word = value_label(value, language)
    if language == "en":
        return f"{word} clients"
    if field == "industry":
        return f"клиентов отрасли «{word}»"
    if field == "segment":
        return f"клиентов сегмента {word}"
    return f"клиентов группы «{word}»"


@dataclass(frozen=True)
class Speaker:
    """Says reasons in one language to one audience."""

    language: Language = DEFAULT_LANGUAGE
    audience: Audience = "client"

    def say(self, reason: Reason, name_of: Callable[[int], str], kinds: tuple[str, ...]) -> str:
        """``reason`` as a sentence; ``name_of`` names offers, ``kinds`` the kind of each."""
        ru = self.language == "ru"
        if reason.code == "prerequisite":
            kind = kinds[reason.item]
            after = _AFTER_KIND[self.language].get(kind, kind)
            if ru:
                return f"следующий шаг после {after} «{name_of(reason.item)}»"
            return f"next step after {after} {name_of(reason.item)}"
        if reason.code == "together":
            name = name_of(reason.item)
            if ru:
                has = "уже есть у вас" if self.audience == "client" else "уже есть у клиента"
                return f"часто берут вместе с «{name}» ({has})"
            has = "which you have" if self.audience == "client" else "which the client has"
            return f"often used together with {name}, {has}"
        percent = round(reason.share * 100)
        group = group_label(reason.row, self.language)
        if ru:
            return f"пользуются {percent} % {group}"
        return f"used by {percent} % of {group}"


def pick_language(
    chosen: str | None, accept_language: str | None, default: Language = DEFAULT_LANGUAGE
) -> Language:
    """The language to answer in: ``chosen`` if it is one we speak, else the best of
    ``Accept-Language`` (by q-value, order breaking ties), else ``default``."""
    if chosen in LANGUAGES:
        return chosen
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        primary = tag.split("-", 1)[0].lower()
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or (quality, -position) > (best[0], -best[1])):
            best = (quality, position, primary)
    return best[2] if best is not None else default
