"""Dates as CRM exports write them: ISO 8601, or one local format per column, never guessed.

A Russian CRM (1C and the like) exports ``31.12.2024``, others ``31/12/2024`` or ``12/31/2024``.
A column's format is inferred from all of its values together: ISO 8601 when every value is
ISO; else the one candidate of ``FORMATS`` that reads every value. Dotted dates are day-first
(the convention wherever they are written); slashed or dashed ones are day-first or month-first,
decided by a value whose day is above 12, or else by a number that never changes while the
other takes several values: that one is the day (``1/2/2019``, ``1/6/2013``, ... are first-of-month
join dates; read month-first, every date would fall in January). A column where both orders read
every value and neither decides is ambiguous and is not read as dates: ``05/01/2024`` is May or
January, and a wrong guess would shift tenure silently.
"""

from __future__ import annotations

import re

import pandas as pd

#: Non-ISO formats tried, as (date part, whether it is day-first); a time part may follow.
_DATE_PARTS: tuple[tuple[str, bool], ...] = (
    ("%d.%m.%Y", True),
    ("%d/%m/%Y", True),
    ("%m/%d/%Y", False),
    ("%d-%m-%Y", True),
    ("%m-%d-%Y", False),
)
_TIME_PARTS = ("", " %H:%M", " %H:%M:%S")
#: Each format tried (date part and time part) -> whether it is day-first.
_DAY_FIRST: dict[str, bool] = {d + t: first for d, first in _DATE_PARTS for t in _TIME_PARTS}
FORMATS: tuple[str, ...] = tuple(_DAY_FIRST)
ISO = "ISO8601"
#: What every value of a column in one of ``FORMATS`` looks like (a cheap first test).
_LOOKS_LOCAL = re.compile(r"^\d{1,2}[./-]\d{1,2}[./-]\d{4}( \d{1,2}:\d{2}(:\d{2})?)?$")
#: Values tested against ``_LOOKS_LOCAL`` before the whole column is parsed.
_SAMPLE = 1000
#: A number that never changes is the day when the other takes at least this many values.
_FIXED_DAY_MIN_MONTHS = 3


class AmbiguousDates(ValueError):
    """Every value reads both day-first and month-first (no day above 12)."""

    def __init__(self, formats: tuple[str, str]) -> None:
        super().__init__(
            f"the column reads as {human(formats[0])} and as {human(formats[1])} and no value "
            "decides (a day above 12); write ISO 8601 dates (2024-12-31)"
        )


def human(fmt: str) -> str:
    """``%d.%m.%Y`` as ``DD.MM.YYYY``."""
    for code, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%H", "hh"), ("%M", "mm")):
        fmt = fmt.replace(code, shown)
    return fmt.replace("%S", "ss")


def _parses(values: pd.Series, fmt: str) -> bool:
    return bool(parse(values, fmt).notna().all())


def column_format(values: pd.Series) -> str | None:
    """The one format that reads every value of ``values`` (text, none missing): ``ISO`` or a
    strptime format of ``FORMATS``; None when none does. Raises ``AmbiguousDates`` when a
    day-first and a month-first format both do."""
    text = values.astype(str)
    if text.empty:
        return None
    if _parses(text, ISO):
        return ISO
    distinct = pd.Series(text.unique())
    readers = [fmt for fmt in FORMATS if _parses(distinct, fmt)]
    if not readers:
        return None
    if len({_DAY_FIRST[fmt] for fmt in readers}) > 1:
        day, month = (next(f for f in readers if _DAY_FIRST[f] is o) for o in (True, False))
        fixed = _fixed_day(distinct)
        if fixed is None:
            raise AmbiguousDates((day, month))
        return day if fixed == 0 else month
    return readers[0]


def _fixed_day(distinct: pd.Series) -> int | None:
    """Which of the first two numbers of ``distinct`` dates is a fixed day of the month (0 or
    1): the one with a single value while the other takes ``_FIXED_DAY_MIN_MONTHS`` or more;
    None when neither is."""
    parts = distinct.str.extract(r"^(\d{1,2})[./-](\d{1,2})[./-]").astype(int)
    counts = [parts[k].nunique() for k in (0, 1)]
    for k in (0, 1):
        if counts[k] == 1 and counts[1 - k] >= _FIXED_DAY_MIN_MONTHS:
            return k
    return None


def parse(values: pd.Series, fmt: str) -> pd.Series:
    """UTC timestamps of text ``values`` in format ``fmt`` (``NaT`` where one does not read)."""
    return pd.to_datetime(values, errors="coerce", utc=True, format=fmt)


def iso_text(values: pd.Series) -> pd.Series | None:
    """ISO text of a text column that is entirely dates in one non-ISO format (``2024-12-31``,
    with the time when one is written); None for any other column, ambiguous ones included."""
    present = values.dropna()
    present = present[present.astype(str) != ""]
    if present.empty or not present.iloc[:_SAMPLE].astype(str).str.match(_LOOKS_LOCAL).all():
        return None
    try:
        fmt = column_format(present)
    except AmbiguousDates:
        return None
    if fmt is None or fmt == ISO:
        return None
    stamps = parse(present, fmt)
    timed = bool((stamps != stamps.dt.normalize()).any())
    out = values.astype(object).copy()
    out.loc[present.index] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S" if timed else "%Y-%m-%d")
    return out
