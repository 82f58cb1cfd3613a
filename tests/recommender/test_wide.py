"""A client x offer table read as long interactions: counts, blanks, and problems named by the
wide file's row and column."""

from pathlib import Path

import pandas as pd
import pytest

from recommender.schema import DataValidationError, Source
from recommender.table_files import read_table_source, read_tables
from recommender.wide import long_from_wide, offer_columns

OFFERS = ("backup", "monitoring", "linux_1")
WIDE = "client_id;backup;monitoring;linux_1\nc1;1;;0\nc2;0;0;0\nc3;2;1;\n"


def read(tmp_path: Path, text: str, name: str = "owned.csv") -> tuple[pd.DataFrame, Source]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_table_source(path, "interactions", offers=OFFERS)


def test_each_count_above_zero_is_one_interaction_with_that_value(tmp_path: Path) -> None:
    frame, source = read(tmp_path, WIDE)
    rows = frame[["client_id", "item_id", "value"]].to_numpy().tolist()
    assert rows == [["c1", "backup", 1.0], ["c3", "backup", 2.0], ["c3", "monitoring", 1.0]]
    assert frame["timestamp"].nunique() == 1  # no timestamp column: a snapshot
    assert source.where(2) == f"{tmp_path / 'owned.csv'} row 3 (line 4)"


def test_a_per_row_date_is_every_offer_s_date(tmp_path: Path) -> None:
    text = "Client_ID,timestamp,backup,monitoring\nc1,2024-05-01,1,1\nc2,2024-06-01,0,1\n"
    frame, _ = read(tmp_path, text)
    stamps = frame["timestamp"].dt.strftime("%Y-%m-%d").tolist()
    assert stamps == ["2024-05-01", "2024-05-01", "2024-06-01"]


def test_a_column_that_is_not_an_offer_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, "client_id,backup,region\nc1,1,north\n")
    message = str(info.value)
    assert "read as a client x offer table" in message
    assert "column 'region' is not an offer of the catalogue" in message


def test_marks_read_as_owned_or_not(tmp_path: Path) -> None:
    text = "client_id;backup;monitoring;linux_1\nc1;Да;нет;\u0425\nc2;-;YES;x\nc3;true;false;2\n"
    frame, _ = read(tmp_path, text)
    assert frame[["client_id", "item_id", "value"]].to_numpy().tolist() == [
        ["c1", "backup", 1.0],
        ["c1", "linux_1", 1.0],  # a Cyrillic Х
        ["c2", "monitoring", 1.0],
        ["c2", "linux_1", 1.0],
        ["c3", "backup", 1.0],
        ["c3", "linux_1", 2.0],
    ]


def test_a_bad_count_names_the_wide_row_and_the_offer(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, "client_id,backup,monitoring\nc1,1,0\nc2,maybe,-1\n")
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "owned.csv row 2 (line 3), column 'backup': 'maybe' is not a count" in message
    assert "owned.csv row 2 (line 3), column 'monitoring': '-1' is not a count" in message


def test_a_missing_client_is_named_by_its_wide_row(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, "client_id,backup\nc1,1\nc2,0\n,1\n")
    assert "owned.csv row 3 (line 4), column 'client_id': value is missing" in str(info.value)


def test_long_files_and_tables_without_offer_columns_are_left_alone(tmp_path: Path) -> None:
    long = pd.DataFrame({"client_id": ["c1"], "item_id": ["backup"], "backup": ["1"]})
    assert offer_columns(long, OFFERS) == []
    assert offer_columns(pd.DataFrame({"client_id": ["c1"], "x": ["1"]}), OFFERS) == []
    frame, _ = read(tmp_path, "client_id,item_id\nc1,backup\n")
    assert frame["item_id"].tolist() == ["backup"]
    numbers = pd.DataFrame({"client_id": ["c1", "c2"], "backup": [0.0, 3.0]})
    portfolio = long_from_wide(numbers, OFFERS, Source("p.parquet"))
    assert portfolio.interactions["value"].tolist() == [3.0]
    assert portfolio.source.where(0) == "p.parquet row 2"
    assert portfolio.attribute_names == []


def test_without_client_id_the_one_column_not_an_offer_is_the_client(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame, _ = read(tmp_path, "ID,backup,monitoring\nF86J5PC,1,0\nH6141K3,1,1\n")
    assert frame[["client_id", "item_id"]].to_numpy().tolist() == [
        ["F86J5PC", "backup"],
        ["H6141K3", "backup"],
        ["H6141K3", "monitoring"],
    ]
    assert "column 'ID' read as 'client_id' (the one column not an offer)" in caplog.text
    # two candidates, neither a clients file's key: no guess, the long reading then names what
    # is missing
    two = pd.DataFrame({"Партнёр": ["x"], "Name": ["y"], "backup": ["1"]})
    assert offer_columns(two, OFFERS) == []
    with pytest.raises(DataValidationError, match="missing required column 'client_id'"):
        read(tmp_path, "Партнёр,Name,backup\nx,y,1\n")


def test_other_columns_are_the_clients_attributes_and_a_total_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An export listing each client's card and products in one row (the key a clients file's
    ``ID``); read by ``read_table_source`` (one table) the attributes are an error."""
    text = "Итого;ID;Отрасль;birth_year;backup;monitoring\n2;c1;ИТ;1970;1;1\n0;c2;Ритейл;;0;\n"
    path = tmp_path / "card.csv"
    path.write_text(text, encoding="utf-8")
    read = read_tables(path, "interactions", offers=OFFERS)
    owned, source = read["interactions"]
    assert owned[["client_id", "item_id"]].to_numpy().tolist() == [
        ["c1", "backup"],
        ["c1", "monitoring"],
    ]
    assert source.where(1) == f"{path} row 1 (line 2)"
    clients, at = read["clients"]
    assert clients["client_id"].tolist() == ["c1", "c2"]  # c2 owns nothing: a cold client
    assert clients["industry"].tolist() == ["ИТ", "Ритейл"]
    assert clients["birth_year"].tolist()[0] == "1970"
    assert "Итого" not in clients.columns
    assert at.where(1) == f"{path} row 2 (line 3)"
    assert "column 'ID' read as 'client_id' (as a clients file reads it)" in caplog.text
    assert "column(s) ['Итого'] skipped (a report's total)" in caplog.text
    assert "'Отрасль', 'birth_year' are no offers: read as the clients' attributes" in caplog.text
    with pytest.raises(DataValidationError, match="column 'Отрасль' is not an offer"):
        read_table_source(path, "interactions", offers=OFFERS)


def test_interactions_without_item_id_say_why_they_are_no_wide_table(tmp_path: Path) -> None:
    path = tmp_path / "owned.csv"
    path.write_text("client_id,backup\nc1,1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="import the offers \\(--items\\) with it"):
        read_table_source(path, "interactions")
    with pytest.raises(DataValidationError, match="no client x offer table either"):
        read_table_source(path, "interactions", offers=("linux_1",))
