"""Why a client is at risk, in words a manager acts on: the drivers of its churn risk.

Each driver is a plain rule on the client's features as of the scoring day, the same facts the
synthetic churn story and the business name ("one active service", "no course in 12 months",
"usage down 40 % over 90 days"); the model's probability says how much risk, the drivers say
where it comes from. Listed in a fixed order of importance, only those that hold.

A driver is a fact (``Driver``: a code and, for the usage drop, a percentage) computed once;
``say_driver`` says it in Russian (the default) or English, as ``recommender.phrases`` says the
reasons of an offer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recommender.churn.features import COLUMN
from recommender.phrases import DEFAULT_LANGUAGE, Language

#: Usage must fall by at least this share (last 90 days vs the 90 before) to be a driver.
USAGE_DROP = 0.25

#: Each driver's words; ``{percent}`` is the driver's value.
_WORDS: dict[str, dict[Language, str]] = {
    "one_service": {"en": "one active service", "ru": "одна активная услуга"},
    "no_service": {"en": "no active service", "ru": "нет активных услуг"},
    "usage_down": {
        "en": "usage down {percent} % over 90 days",
        "ru": "использование снизилось на {percent} % за 90 дней",
    },
    "no_course": {"en": "no course in 12 months", "ru": "ни одного курса за 12 месяцев"},
    "downgraded": {
        "en": "downgraded a tariff in the last 12 months",
        "ru": "перешёл на тариф ниже за последние 12 месяцев",
    },
    "cancelled": {
        "en": "cancelled a service in the last 12 months",
        "ru": "отказался от услуги за последние 12 месяцев",
    },
    "no_view": {
        "en": "no offer viewed in 6 months",
        "ru": "не смотрел предложения 6 месяцев",
    },
    "new_client": {"en": "client for less than a year", "ru": "клиент меньше года"},
}


@dataclass(frozen=True)
class Driver:
    """One reason of a client's risk: ``code`` (a key of ``_WORDS``) and its value."""

    code: str
    #: The usage drop in whole percent for ``usage_down``; 0 for the others.
    percent: int = 0


def _value(row: np.ndarray, name: str) -> float:
    return float(row[COLUMN[name]])


def driver_facts(row: np.ndarray) -> list[Driver]:
    """The drivers of one client's risk (``row``: its feature vector), as facts."""
    out: list[Driver] = []
    services = _value(row, "services")
    if not math.isnan(services) and services <= 1:
        out.append(Driver("one_service" if services == 1 else "no_service"))
    change = _value(row, "usage_change")
    if not math.isnan(change) and change <= -USAGE_DROP:
        out.append(Driver("usage_down", round(-change * 100)))
    if _value(row, "completions_365") == 0:
        out.append(Driver("no_course"))
    if _value(row, "downgrades_365") > 0:
        out.append(Driver("downgraded"))
    if _value(row, "cancels_365") > 0:
        out.append(Driver("cancelled"))
    since_view = _value(row, "days_since_view")
    if math.isnan(since_view) or since_view > 180:
        out.append(Driver("no_view"))
    tenure = _value(row, "tenure_days")
    if not math.isnan(tenure) and tenure < 365:
        out.append(Driver("new_client"))
    return out


def say_driver(driver: Driver, language: Language = DEFAULT_LANGUAGE) -> str:
    """``driver`` in words: "одна активная услуга" / "one active service"."""
    return _WORDS[driver.code][language].format(percent=driver.percent)


def drivers(row: np.ndarray, language: Language = "en") -> list[str]:
    """The drivers of one client's risk in words (English unless ``language`` says)."""
    return [say_driver(d, language) for d in driver_facts(row)]
