"""Dates as CRM exports write them: one format per column, inferred, never guessed."""

from __future__ import annotations

import pandas as pd
import pytest

from recommender import dates


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-12-31", "2024-01-05T10:00:00+03:00"], dates.ISO),
        (["31.12.2024", "01.02.2019"], "%d.%m.%Y"),
        (["05.01.2024", "01.02.2019"], "%d.%m.%Y"),  # dotted: day-first wherever it is written
        (["1/5/2019", "25/12/2018"], "%d/%m/%Y"),  # a day above 12 decides
        (["12/31/2019", "1/5/2018"], "%m/%d/%Y"),
        (["31-12-2024", "01-02-2019"], "%d-%m-%Y"),
        (["31.12.2024 14:05", "01.02.2019 09:00"], "%d.%m.%Y %H:%M"),
        (["31.12.2024", "12/31/2024"], None),  # two formats in one column
        (["2A7I", "x"], None),
        (["31.02.2024"], None),  # no such day
    ],
)
def test_one_format_per_column(values: list[str], expected: str | None) -> None:
    assert dates.column_format(pd.Series(values)) == expected


def test_day_and_month_both_up_to_12_is_ambiguous() -> None:
    with pytest.raises(dates.AmbiguousDates, match="DD/MM/YYYY and as MM/DD/YYYY"):
        dates.column_format(pd.Series(["05/01/2024", "01/02/2024"]))


def test_a_number_that_never_changes_is_the_day() -> None:
    # first-of-month join dates: read month-first every one would fall in January
    joined = pd.Series(["1/2/2019", "1/6/2013", "1/9/2017", "1/12/2018", "1/6/2019"])
    assert dates.column_format(joined) == "%d/%m/%Y"
    iso = dates.iso_text(joined)
    assert iso is not None
    assert iso.tolist()[:2] == ["2019-02-01", "2013-06-01"]
    assert dates.column_format(pd.Series(["2/1/2019", "6/1/2013", "9/1/2017"])) == "%m/%d/%Y"
    # one fixed number against two values is not enough to decide
    with pytest.raises(dates.AmbiguousDates):
        dates.column_format(pd.Series(["1/2/2019", "1/6/2013", "1/2/2013"]))


def test_a_local_date_column_becomes_iso_text_and_keeps_its_blanks() -> None:
    column = pd.Series(["1/5/2019", "", "25/12/2018", None])
    iso = dates.iso_text(column)
    assert iso is not None
    assert iso[:3].tolist() == ["2019-05-01", "", "2018-12-25"]
    assert pd.isna(iso[3])
    timed = pd.Series(["31.12.2024 14:05", "01.02.2019 00:00"])
    assert list(dates.iso_text(timed)) == ["2024-12-31T14:05:00", "2019-02-01T00:00:00"]


@pytest.mark.parametrize(
    "values",
    [
        ["2024-12-31", "2024-01-05"],  # already ISO: left as it is
        ["05/01/2024", "01/02/2024"],  # ambiguous: left as text
        ["31.12.2024", "soon"],
        ["1990", "2001"],
        [None, ""],
    ],
)
def test_other_columns_are_not_rewritten(values: list[str | None]) -> None:
    assert dates.iso_text(pd.Series(values)) is None
