"""Other names of the schema's columns: Russian headers and kind names, as a Russian CRM (1C
and the like) exports them, common English ones (``Customer ID``, ``Product code``, ``Date``),
and a bare ``ID`` for the key of a clients / items table. A header none of these covers is
mapped by the user (``recsys data import --column 'Header=column'``).

``HEADERS`` maps, per table, a schema column to the headers read as it, most specific
first (``Код клиента`` before ``Клиент``: where both are present, the code is the id and the
other stays an extra column). A header is matched after ``normalise`` (case, spaces, ``ё``).
An alias is read only where the file has no column of the schema's own name, and
``recommender.schema.schema_headers`` says each one it reads. ``KINDS`` are the Russian names
of the offer kinds (``ItemKind``), ``EVENTS`` the other names of the event types (``EventType``).
"""

from __future__ import annotations

import re

import pandas as pd

_CLIENT_ID = ("код клиента", "id клиента", "идентификатор клиента", "код контрагента", "инн")
_CLIENT_ID_EN = ("customer id", "customer_id", "customer code", "account id", "account_id")
_CLIENT_REF = (*_CLIENT_ID, *_CLIENT_ID_EN, "клиент", "контрагент", "customer", "account")
_ITEM_CODE = ("код услуги", "код продукта", "код товара", "код предложения", "артикул")
_ITEM_CODE_EN = ("product code", "product id", "product_id", "sku")
_ITEM_REF = (
    *_ITEM_CODE,
    *_ITEM_CODE_EN,
    "услуга",
    "продукт",
    "товар",
    "номенклатура",
    "предложение",
    "product",
    "service",
    "offer",
)

HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "items": {
        "item_id": (*_ITEM_CODE, *_ITEM_CODE_EN, "код", "code", "id"),
        "name": (
            "наименование",
            "название",
            "услуга",
            "продукт",
            "товар",
            "номенклатура",
            "product name",
            "title",
            "product",
        ),
        "kind": ("вид", "тип", "вид услуги", "тип услуги", "вид предложения"),
        "family": ("семейство", "группа", "категория", "product family"),
        "price": ("цена", "стоимость", "цена, руб", "стоимость, руб", "list price", "unit price"),
        "margin": ("маржа", "маржинальность"),
        "vendor": ("вендор", "производитель", "поставщик", "manufacturer", "supplier"),
        "tags": ("теги", "метки"),
    },
    "clients": {
        # "Клиент" is the id when nothing more specific is present, else the client's name
        "client_id": (*_CLIENT_ID, *_CLIENT_ID_EN, "код", "id", "клиент", "контрагент", "customer"),
        "name": (
            "наименование",
            "название",
            "наименование клиента",
            "клиент",
            "контрагент",
            "customer name",
            "account name",
            "company name",
            "company",
            "customer",
        ),
        "industry": ("отрасль", "вид деятельности", "сфера деятельности", "sector"),
        "segment": ("сегмент",),
        "size_band": ("размер", "размер компании", "категория размера", "company size"),
        "region": ("регион", "субъект рф"),
        "manager_id": (
            "менеджер",
            "ответственный",
            "аккаунт-менеджер",
            "ответственный менеджер",
            "account manager",
        ),
        "signup_date": ("дата регистрации", "дата начала работы", "клиент с", "дата подключения"),
        "loyalty_tier": ("уровень лояльности", "уровень"),
    },
    "interactions": {
        "client_id": _CLIENT_REF,
        "item_id": _ITEM_REF,
        "timestamp": (
            "дата",
            "период",
            "дата продажи",
            "дата подключения",
            "дата события",
            "date",
            "event date",
            "purchase date",
            "order date",
        ),
        "value": ("количество", "кол-во", "quantity", "qty"),
        "event_type": (
            "тип события",
            "событие",
            "операция",
            "вид операции",
            "тип операции",
            "event",
            "event type",
        ),
    },
}

#: Names of a workbook's sheet holding each table (after ``normalise``): one workbook with
#: sheets "Клиенты", "Услуги", "Продажи" is given as --clients, --items and --interactions.
SHEETS: dict[str, tuple[str, ...]] = {
    "items": (
        "items", "catalog", "catalogue", "products", "offers", "services", "price list",
        "каталог", "услуги", "товары", "номенклатура", "продукты", "предложения", "прайс",
        "прайс-лист",
    ),
    "clients": ("clients", "customers", "accounts", "клиенты", "контрагенты", "покупатели"),
    "interactions": (
        "interactions", "sales", "orders", "events", "portfolio", "subscriptions",
        "продажи", "подключения", "заказы", "события", "портфель", "реализация", "подписки",
    ),
}  # fmt: skip

#: Russian names of the offer kinds (after ``normalise``), as a catalogue's ``Вид`` column has.
KINDS: dict[str, str] = {
    "тариф": "tariff",
    "тарифный план": "tariff",
    "подписка": "tariff",
    "курс": "course",
    "вебинар": "course",
    "сертификация": "course",
    "обучение": "course",
    "услуга": "addon",
    "доп. услуга": "addon",
    "дополнительная услуга": "addon",
}

#: Other names of the event types (after ``normalise``), as a CRM's sales or subscription
#: register writes its operation: ``Продажа``, ``Подключение``, ``Отключение``, ...
EVENTS: dict[str, str] = {
    **dict.fromkeys(("покупка", "продажа", "заказ", "реализация", "sale", "order"), "purchase"),
    **dict.fromkeys(
        ("подключение", "подписка", "начало подписки", "активация", "subscription", "activation"),
        "subscription_start",
    ),
    **dict.fromkeys(("продление", "пролонгация", "renew"), "renewal"),
    **dict.fromkeys(
        ("отключение", "расторжение", "отмена", "отказ", "cancel", "cancelled", "canceled"),
        "cancellation",
    ),
    **dict.fromkeys(("запись", "запись на курс", "enrollment", "enroll"), "enrolment"),
    **dict.fromkeys(
        ("завершение", "завершение курса", "окончание курса", "completed"), "completion"
    ),
    **dict.fromkeys(("использование", "потребление", "use"), "usage"),
    "просмотр": "view",
    "показ": "impression",
    **dict.fromkeys(("клик", "переход"), "click"),
}

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, ``ё`` as ``е``, runs of spaces as one, none around."""
    return _SPACES.sub(" ", text.strip().lower().replace("ё", "е"))


def normalise_all(values: pd.Series) -> pd.Series:
    """``normalise`` of every text value of ``values`` (missing stays missing), each distinct
    value once: an import's enum column has millions of rows and a handful of values."""
    distinct = pd.unique(values.dropna())
    return values.map({value: normalise(str(value)) for value in distinct})


def header_aliases(table: str, headers: list[str]) -> dict[str, str]:
    """{header: schema column} for the ``headers`` of ``table`` read as schema columns
    the headers do not name themselves; per column the most specific alias present wins."""
    aliases = HEADERS.get(table, {})
    present = {normalise(h): h for h in reversed(headers)}  # the first of equal headers
    named = set(present)
    out: dict[str, str] = {}
    for column, candidates in aliases.items():
        if column in named:
            continue
        for alias in candidates:
            header = present.get(alias)
            if header is not None and header not in out:
                out[header] = column
                break
    return out
