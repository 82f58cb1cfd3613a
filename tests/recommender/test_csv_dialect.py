"""CSV as Russian Excel and 1C write it: Windows-1251, ';' separators, decimal commas."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recommender import csv_dialect
from recommender.schema import DataValidationError
from recommender.table_files import read_table_file

ITEMS = (
    "item_id;name;kind;price;margin\n"
    "backup;Резервное копирование;addon;1 234,5;0,25\n"
    "course;Курс Linux;course;990;0.3\n"
)
CLIENTS = (
    "client_id;industry;revenue;employees;branch;note\n"
    "c1;Банк;1 234 567,89;120;A1;ООО Ромашка, филиал\n"
    "c2;Школа;15,5;8;B2;\n"
    "c3;Банк;;300;A1;ИП\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("a,b\n1,2\n", "utf-8", csv_dialect.Dialect("utf-8-sig", ",")),
        ("\ufeffa,b\n1,2\n", "utf-8", csv_dialect.Dialect("utf-8-sig", ",")),
        ("a;b\n1,5;2\n", "utf-8", csv_dialect.Dialect("utf-8-sig", ";")),
        ("a\tb\n1\t2\n", "utf-8", csv_dialect.Dialect("utf-8-sig", "\t")),
        ("клиент;отрасль\nc1;Банк\n", "cp1251", csv_dialect.Dialect("cp1251", ";")),
        ("клиент\tотрасль\nc1\tБанк\n", "utf-16", csv_dialect.Dialect("utf-16", "\t")),
    ],
)
def test_sniff(tmp_path: Path, text: str, encoding: str, expected: csv_dialect.Dialect) -> None:
    assert csv_dialect.sniff(write(tmp_path, "t.csv", text, encoding)) == expected


def test_excel_ru_items_read_with_decimal_commas(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        items = read_table_file(write(tmp_path, "items.csv", ITEMS, "cp1251"), "items")
    assert items["name"].tolist() == ["Резервное копирование", "Курс Linux"]
    assert items["price"].tolist() == [1234.5, 990.0]
    assert items["margin"].tolist() == [0.25, 0.3]
    assert "items.csv: read as Windows-1251, fields separated by ';'" in caplog.text


def test_extra_columns_of_comma_numbers_become_numbers_and_text_stays(tmp_path: Path) -> None:
    clients = read_table_file(write(tmp_path, "clients.csv", CLIENTS), "clients")
    assert clients["revenue"].tolist() == ["1234567.89", "15.5", ""]
    assert clients["employees"].tolist() == ["120", "8", "300"]  # plain integers: as they were
    assert clients["note"].tolist() == ["ООО Ромашка, филиал", "", "ИП"]
    assert clients["industry"].tolist() == ["Банк", "Школа", "Банк"]


def test_a_bad_number_in_a_semicolon_file_names_row_and_column(tmp_path: Path) -> None:
    bad = ITEMS.replace("990", "девятьсот")
    with pytest.raises(DataValidationError) as error:
        read_table_file(write(tmp_path, "items.csv", bad), "items")
    assert "items.csv row 2 (line 3), column 'price': 'девятьсот' is not a number" in str(
        error.value
    )


def test_a_comma_file_never_reads_a_decimal_comma(tmp_path: Path) -> None:
    """In a ',' file "1,5" may be 1.5 or 15: it is an error, not a guess."""
    text = 'item_id,name,kind,price\nbackup,Backup,addon,"1,5"\n'
    with pytest.raises(DataValidationError, match="column 'price': '1,5' is not a number"):
        read_table_file(write(tmp_path, "items.csv", text), "items")
