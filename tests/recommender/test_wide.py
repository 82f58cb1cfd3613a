"""A client x offer table read as long interactions: counts, blanks, and problems named by the
wide file's row and column."""

from pathlib import Path

import pandas as pd
import pytest

from recommender.schema import DataValidationError, Source
from recommender.table_files import read_table_source
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


def test_a_bad_count_names_the_wide_row_and_the_offer(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, "client_id,backup,monitoring\nc1,1,0\nc2,yes,-1\n")
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "owned.csv row 2 (line 3), column 'backup': 'yes' is not a count" in message
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
    frame, source = long_from_wide(numbers, OFFERS, Source("p.parquet"))
    assert frame["value"].tolist() == [3.0]
    assert source.where(0) == "p.parquet row 2"


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
    # two candidates: no guess, the long reading then names what is missing
    assert offer_columns(pd.DataFrame({"ID": ["x"], "Name": ["y"], "backup": ["1"]}), OFFERS) == []
    with pytest.raises(DataValidationError, match="missing required column 'client_id'"):
        read(tmp_path, "ID,Name,backup\nx,y,1\n")
