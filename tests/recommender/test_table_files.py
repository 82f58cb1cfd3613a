"""Table files: Excel workbooks read as a CSV export of them would be, unsupported files named."""

from pathlib import Path

import pandas as pd
import pytest

from recommender.table_files import read_table_file
from tests.recommender.test_schema import error_of, write


def test_an_excel_workbook_reads_its_first_sheet_as_a_csv_export_would(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Клиенты"
    sheet.append(["client_id", "industry", "signup_date", "Выручка", "Договор"])
    sheet.append(["000123", "Банки", datetime(2021, 3, 4), 1200.0, "31.12.2020"])
    sheet.append([77, None, None, 1234.5, "01.02.2019"])
    book.create_sheet("Справка").append(["not", "read"])
    path = tmp_path / "clients.xlsx"
    book.save(path)
    with caplog.at_level("WARNING", logger="recommender.table_files"):
        clients = read_table_file(path, "clients")
    assert "read sheet 'Клиенты' of ['Клиенты', 'Справка'] as clients" in caplog.text
    assert clients["client_id"].tolist() == ["000123", "77"]
    assert clients["industry"].isna().tolist() == [False, True]
    assert clients["signup_date"].iloc[0] == pd.Timestamp("2021-03-04", tz="UTC")
    assert clients["Выручка"].tolist() == ["1200", "1234.5"]
    assert clients["Договор"].tolist() == ["2020-12-31", "2019-02-01"]
    sheet.append(["c9", "it", "yesterday", 1, ""])
    book.save(path)
    said = "clients.xlsx (sheet 'Клиенты') row 3 (sheet row 4), column 'signup_date'"
    assert said in error_of(path, "clients")


def test_one_workbook_gives_each_table_its_sheet(tmp_path: Path) -> None:
    """Sheets named as the tables (Russian or English, any case) are read as those tables,
    whatever their order; a workbook without such a name gives its first sheet."""
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Справка"
    first.append(["Отчёт выгружен из CRM"])
    book.create_sheet("ПРОДАЖИ").append(["client_id", "item_id"])
    book["ПРОДАЖИ"].append(["c1", "backup"])
    book.create_sheet("Clients").append(["client_id", "industry"])
    book["Clients"].append(["c1", "Банки"])
    book.create_sheet("Номенклатура").append(["item_id", "name"])
    book["Номенклатура"].append(["backup", "Резервное копирование"])
    path = tmp_path / "crm.xlsm"  # a macro-enabled workbook reads the same
    book.save(path)
    assert read_table_file(path, "clients")["industry"].tolist() == ["Банки"]
    assert read_table_file(path, "items")["name"].tolist() == ["Резервное копирование"]
    assert read_table_file(path, "interactions")["item_id"].tolist() == ["backup"]
    book["Clients"].title = "Лист2"
    book.save(path)
    assert "crm.xlsm (sheet 'Справка')" in error_of(path, "clients")


def test_excel_unicode_text_reads_as_csv(tmp_path: Path) -> None:
    """Excel's "Unicode text" (.txt, UTF-16 with a byte-order mark, tab separated) and .tsv."""
    text = "item_id\tname\r\nbackup\tРезервное копирование\r\n"
    for name in ("items.txt", "items.tsv"):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-16"))
        assert read_table_file(path, "items")["name"].tolist() == ["Резервное копирование"]
    bad = "item_id\tname\tkind\r\nbackup\tBackup\taddon\r\ncourse\tLinux\tbogus\r\n"
    path.write_bytes(bad.encode("utf-16"))
    assert "items.tsv row 2 (line 3), column 'kind'" in error_of(path, "items")


def test_unsupported_or_missing_file(tmp_path: Path) -> None:
    said = error_of(write(tmp_path, "a.xls", "x"), "items")
    assert "unsupported file type '.xls'" in said and "saved as .xlsx first" in said
    assert "a.xlsx: cannot be read: File is not a zip file" in error_of(
        write(tmp_path, "a.xlsx", "x"), "items"
    )
    assert "nope.csv: file not found" in error_of(tmp_path / "nope.csv", "items")
