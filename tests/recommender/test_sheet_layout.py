"""A report's sheet: title rows above the header, blank rows and a total row are skipped, and
every problem still names the file's own line (sheet row)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from recommender.schema import DataValidationError, Source
from recommender.sheet_layout import known_headers, table_rows
from recommender.table_files import read_table_source

OFFERS = ("backup", "monitoring")


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_report_sheet_is_read_from_its_header_to_its_total(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = [
        ["Отчёт по продажам"],
        ["Период: 2024"],
        [],
        ["Клиент", "Услуга", "Дата"],
        ["c1", "backup", "01.02.2024"],
        [],
        ["c2", "monitoring", "03.02.2024"],
        ["c3", "backup", "31.02.2024"],
        ["Итого", None, None],
    ]
    path = workbook(tmp_path / "sales.xlsx", report)
    with pytest.raises(DataValidationError) as info:
        read_table_source(path, "interactions")
    assert "sales.xlsx row 7 (sheet row 8), column 'timestamp'" in str(info.value)
    path = workbook(tmp_path / "sales.xlsx", report[:7] + report[8:])
    frame, source = read_table_source(path, "interactions")
    assert frame[["client_id", "item_id"]].to_numpy().tolist() == [
        ["c1", "backup"],
        ["c2", "monitoring"],
    ]
    assert source.where(1) == f"{path} row 6 (sheet row 7)"
    assert "the header is on sheet row 4: the 3 row(s) above skipped" in caplog.text
    assert "1 blank row(s) skipped" in caplog.text and "1 total row(s) skipped" in caplog.text


def test_an_excel_csv_with_a_title_and_a_wide_table_under_it(tmp_path: Path) -> None:
    text = "Портфель клиентов;;\n;;\nclient_id;backup;monitoring\nc1;1;\n\nc2;maybe;1\n"
    path = tmp_path / "owned.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_table_source(path, "interactions", offers=OFFERS)
    # the wide table's row is named by the file's own line
    assert "owned.csv row 5 (line 6), column 'backup': 'maybe' is not a count" in str(info.value)


def test_a_table_with_its_header_first_or_none_found_is_left_as_read() -> None:
    known = known_headers("clients")
    frame = pd.DataFrame({"client_id": ["c1", "c2"], "industry": ["it", "bank"]})
    source = Source("clients.csv", 1)
    assert table_rows(frame, "clients", source, known) == (frame, source)
    titled = pd.DataFrame({"Отчёт": ["", "x", "y"], "unnamed": ["", "1", "2"]})
    same, _ = table_rows(titled, "clients", source, known)  # no header: only the blank row goes
    assert same["Отчёт"].tolist() == ["x", "y"]
    assert "отрасль" in known and "код клиента" in known and "industry" in known


def test_cells_that_are_not_text_are_never_blank() -> None:
    """Excel cells of other types, and list cells (a Parquet file's), are compared as text only."""
    frame = pd.DataFrame(
        {
            "item_id": ["a", "", "b"],
            "tags": [np.array(["x"]), np.array([]), np.array([], dtype=str)],
            "price": [1, "", 0],
        }
    )
    out, source = table_rows(frame, "items", Source("items.xlsx", 1, "sheet row"), set())
    assert out["item_id"].tolist() == ["a", "", "b"]  # row 2 holds an (empty) list: not blank
    blank = pd.DataFrame({"item_id": ["a", "", "b"], "price": [1, "", 0]}, dtype=object)
    out, source = table_rows(blank, "items", Source("items.xlsx", 1, "sheet row"), set())
    assert (
        out["item_id"].tolist() == ["a", "b"]
        and source.where(1) == "items.xlsx row 3 (sheet row 4)"
    )
