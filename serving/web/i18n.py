"""The pages in Russian (the default) or English: the words of the templates and how a page
picks its language.

A page's language is, in order: the ``recsys_lang`` cookie (set by the switch in the page header,
``/language/<code>``), the browser's ``Accept-Language``, then ``RECSYS_LANGUAGE``. Templates
call ``t("English text", **values)``; the Russian text is looked up here, English is the key
itself, so a template stays readable. Data values and column names go through
``recommender.phrases`` (``word``, ``label``), the same labels the exports and reasons use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request

from recommender.phrases import (
    LANGUAGES,
    Language,
    field_label,
    pick_language,
    value_label,
)
from recommender.ranking.calibration import Calibration

LANGUAGE_COOKIE = "recsys_lang"
#: What the cookie of the language switch lasts (a year).
LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
CURRENCY = "₽"

_RU: dict[str, str] = {
    "Offers workspace": "Рабочее место: предложения",
    "manager {id}": "менеджер {id}",
    "admin": "администратор",
    "data science": "модели",
    "Log out": "Выйти",
    "Log in": "Войти",
    "Log in · Offers workspace": "Вход · Рабочее место: предложения",
    "Use your API key; it stays on the server: the browser keeps only a session cookie.": (
        "Войдите с API-ключом: он остаётся на сервере, браузер хранит только cookie сессии."
    ),
    "API key": "API-ключ",
    "Next-best offers · {id}": "Лучшие предложения · {id}",
    "Next-best offers for manager {id}": "Лучшие предложения для клиентов менеджера {id}",
    "Offer kind": "Тип предложения",
    "all kinds": "все типы",
    "Industry": "Отрасль",
    "all industries": "все отрасли",
    "Offers per client": "Предложений на клиента",
    "Apply filters": "Применить",
    "Export CSV": "Выгрузить CSV",
    "Export XLSX": "Выгрузить XLSX",
    "{n} clients · total opportunity {total} · model {model}": (
        "клиентов: {n} · потенциал всего {total} · модель {model}"
    ),
    "Client": "Клиент",
    "Owned offers": "Подключено",
    "Loyalty tier": "Уровень лояльности",
    "Top offers, with reasons": "Лучшие предложения и почему",
    "Expected value": "Ожидаемая выручка",
    "No clients match these filters.": "Нет клиентов, подходящих под фильтры.",
    "no eligible offer": "нет подходящих предложений",
    "EV": "ОВ",
    "top tier": "высший уровень",
    "progress toward {tier}": "прогресс до уровня «{tier}»",
    "{percent} %, {money} to go": "{percent} %, осталось {money}",
    "CRM says {tier}; spend {money}": "в CRM: {tier}; расходы {money}",
    "← back to the portfolio of {id}": "← к портфелю менеджера {id}",
    "Client {id}": "Клиент {id}",
    "Profile": "Профиль",
    "Loyalty": "Лояльность",
    "yearly spend {money}": "расходы за год {money}",
    "Owned offers ({n})": "Подключено ({n})",
    "none": "нет",
    "Next-best offers (expected value {money})": "Лучшие предложения (ожидаемая выручка {money})",
    "Data science · models and experiments": "Модели и эксперименты",
    "Models and experiments": "Модели и эксперименты",
    "Open a manager's portfolio": "Открыть портфель менеджера",
    "Open": "Открыть",
    "Served model versions per alias": "Версии модели по псевдонимам",
    "source: {source}": "источник: {source}",
    "alias": "псевдоним",
    "registry version": "версия в реестре",
    "served here": "обслуживается здесь",
    "loaded": "загружена",
    "Offline metrics per alias": "Офлайн-метрики по псевдонимам",
    "metric": "метрика",
    "not available": "нет данных",
    "From the MLflow run of each version (test part of its split); per-industry figures "
    "are in MLflow.": (
        "Из запуска MLflow каждой версии (тестовая часть её разбиения); по отраслям — в MLflow."
    ),
    "Offline metrics: not available (a model served from a directory, or runs without metrics).": (
        "Офлайн-метрик нет (модель загружена из папки или запуски без метрик)."
    ),
    "Running experiments": "Идущие эксперименты",
    "variants: {variants}": "варианты: {variants}",
    "variant": "вариант",
    "exposures": "показы",
    "clients": "клиенты",
    "conversion": "конверсия",
    "revenue / client": "выручка на клиента",
    "(control)": "(контроль)",
    "relative uplift": "относительный прирост",
    "95 % interval": "95 % интервал",
    "Sample-ratio mismatch (p = {p})": "Нарушение пропорций выборки (p = {p})",
    "report not available: {problem}": "отчёта нет: {problem}",
    "No experiment is running.": "Экспериментов нет.",
    "uplift of {name} with 95 % intervals": "прирост {name} с 95 % интервалами",
    "Language": "Язык",
    # churn risk and the "Profi" programme (issue 16)
    "Churn risk": "Риск ухода",
    "all risk bands": "любой риск",
    "low risk": "низкий риск",
    "medium risk": "средний риск",
    "high risk": "высокий риск",
    "Order by": "Порядок",
    "opportunity": "по потенциалу",
    "revenue at risk": "по выручке под риском",
    "revenue at risk {total} · churn model {model}": (
        "выручка под риском {total} · модель оттока {model}"
    ),
    "Churn risk is not shown: {problem}": "Риск ухода не показан: {problem}",
    "at risk {money}": "под риском {money}",
    "not scored": "нет оценки",
    "Profi programme": "Программа «Профи»",
    "{n} services in use, {needed} to go": "услуг в работе: {n}, осталось {needed}",
    "{n} services in use, top tier": "услуг в работе: {n}, высший уровень",
    "probability of cancelling every tariff within {days} days, as of {day}": (
        "вероятность отказа от всех тарифов в течение {days} дн., на {day}"
    ),
    "Churn-risk model": "Модель риска ухода",
    "served here: {label}": "обслуживается здесь: {label}",
    "Backtest (test cut-off {cutoff})": "Проверка на истории (срез {cutoff})",
    "score": "оценка",
    "model": "модель",
    "base rate": "базовая частота",
    "best single-feature rule: {rule}": "лучшее правило по одному признаку: {rule}",
    "one active service": "одна активная услуга",
    "shuffled-window control": "контроль с перемешанным окном",
    "Calibration (reliability by decile of predicted risk)": (
        "Калибровка (надёжность по децилям прогноза)"
    ),
    "predicted": "прогноз",
    "observed": "факт",
    "rows": "строк",
    "retention": "удержание",
    "churned": "ушли",
}

#: Tiers of the "Profi" programme as words (a tier configured under another name shows as is).
_PROFI: dict[Language, dict[str, str]] = {
    "ru": {"basic": "Базовый", "profi": "Профи", "profi_plus": "Профи+"},
    "en": {"basic": "Basic", "profi": "Profi", "profi_plus": "Profi+"},
}


def profi_label(tier: str, language: Language) -> str:
    """A Profi tier as a word: ``profi_plus`` -> "Профи+"."""
    return _PROFI[language].get(tier, tier.replace("_", " "))


#: The probability's horizon as ``recommender.evaluation.evaluate.describe_horizon`` writes it.
_HORIZONS_RU: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"taken within (\d+) days"), r"в течение \1 дн."),
    (re.compile(r"a held-out offer of the client's portfolio"), "скрытое предложение портфеля"),
    (re.compile(r"taken in the held-out part"), "в отложенной части данных"),
)


def translate(language: Language, text: str, **values: Any) -> str:
    """``text`` (the English wording) in ``language``, with ``values`` filled in."""
    said = _RU.get(text, text) if language == "ru" else text
    return said.format(**values) if values else said


def money(value: float) -> str:
    """Whole currency units with thin grouping and the currency: 1 234 567 ₽."""
    return f"{value:,.0f}".replace(",", "\u202f") + f"\u00a0{CURRENCY}"


def horizon_text(horizon: str, language: Language) -> str:
    if language == "en":
        return horizon
    for pattern, replacement in _HORIZONS_RU:
        if pattern.fullmatch(horizon):
            return pattern.sub(replacement, horizon)
    return horizon


def probability_note(calibration: Calibration, language: Language) -> str:
    """What p and EV on the pages mean, for the model that produced them."""
    quality = dict(calibration.quality)
    brier = quality.get("brier")
    if language == "ru":
        if not calibration.calibrated:
            return (
                "p — относительная оценка, а не вероятность: эта версия модели обучена без "
                "калибровки (переобучите её, чтобы получить вероятности). "
                f"ОВ (ожидаемая выручка) = цена × маржа × p, в {CURRENCY}."
            )
        judged = f" (оценка Брайера {brier:.3f})" if brier is not None else ""
        return (
            "p — вероятность того, что клиент возьмёт предложение "
            f"({horizon_text(calibration.horizon, language)}), откалибрована на отложенных "
            f"клиентах{judged}. ОВ (ожидаемая выручка) = цена × маржа × p, в {CURRENCY}; "
            "потенциал клиента — сумма по его предложениям."
        )
    if not calibration.calibrated:
        return (
            "p is a relative score, not a probability: this model version was trained "
            "without calibration (retrain it to get calibrated probabilities). "
            f"EV = price × margin × p, in {CURRENCY}."
        )
    judged = f" (held-out Brier score {brier:.3f})" if brier is not None else ""
    return (
        f"p is the probability that the client takes the offer ({calibration.horizon}), "
        f"calibrated on held-out clients{judged}. EV (expected value) = price × margin × p, "
        f"in {CURRENCY}; a client's opportunity is the sum over its offers."
    )


def page_language(request: Request) -> Language:
    """The switch's cookie, else ``Accept-Language``, else the configured default."""
    settings = getattr(request.app.state, "settings", None)
    default: Language = getattr(settings, "language", "ru")
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    return pick_language(cookie, request.headers.get("accept-language"), default)


def language_context(request: Request) -> dict[str, Any]:
    """What every template gets: its language, ``t``, ``word``, ``label`` and the note."""
    language = page_language(request)

    def t(text: str, **values: Any) -> str:
        return translate(language, text, **values)

    def note(calibration: Calibration) -> str:
        return probability_note(calibration, language)

    word: Callable[[str], str] = lambda value: value_label(str(value), language)  # noqa: E731
    profi: Callable[[str], str] = lambda tier: profi_label(str(tier), language)  # noqa: E731
    label: Callable[[str], str] = lambda field: field_label(str(field), language)  # noqa: E731
    return {
        "lang": language,
        "languages": LANGUAGES,
        "t": t,
        "word": word,
        "label": label,
        "profi": profi,
        "probability_note": note,
    }
