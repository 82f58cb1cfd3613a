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
    assert "read sheet 'Клиенты', the first of 2" in caplog.text
    assert clients["client_id"].tolist() == ["000123", "77"]
    assert clients["industry"].isna().tolist() == [False, True]
    assert clients["signup_date"].iloc[0] == pd.Timestamp("2021-03-04", tz="UTC")
    assert clients["Выручка"].tolist() == ["1200", "1234.5"]
    assert clients["Договор"].tolist() == ["2020-12-31", "2019-02-01"]
    sheet.append(["c9", "it", "yesterday", 1, ""])
    book.save(path)
    assert "clients.xlsx row 3 (sheet row 4), column 'signup_date'" in error_of(path, "clients")


def test_unsupported_or_missing_file(tmp_path: Path) -> None:
    assert "unsupported file type '.xls'" in error_of(write(tmp_path, "a.xls", "x"), "items")
    assert "a.xlsx: cannot be read: File is not a zip file" in error_of(
        write(tmp_path, "a.xlsx", "x"), "items"
    )
    assert "nope.csv: file not found" in error_of(tmp_path / "nope.csv", "items")
