"""The streaming XLSX writer: a workbook openpyxl and pandas read back as the table it came from."""

from __future__ import annotations

import io
import math
import zipfile
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from recommender.xlsx_writer import clean_text, column_letter, write_xlsx

LONG = "долгий текст, " * 500


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["0001", "Клиент-2", "=1+1", "@SUM(A1)", "", LONG, "a & <b> \"c\" 'd'"],
            "spend": [1234.5, np.nan, np.inf, -np.inf, 1e20, -0.25, 0.0],
            "offer_1_probability": [0.1234, 0.5, 1.0, 0.0, np.nan, 0.9999, 1e-7],
            "owned_offers": np.arange(7, dtype=np.int64),
            "active": [True, False, True, False, True, False, True],
            "note": [
                None,
                " lead",
                "trail ",
                "two  spaces",
                "tab\there",
                "line\nbreak",
                "cr\rhere",
            ],
        }
    )


def _write(frame: pd.DataFrame, **kwargs: object) -> bytes:
    stream = io.BytesIO()
    write_xlsx(frame, stream, **kwargs)  # type: ignore[arg-type]
    return stream.getvalue()


def _rows(data: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]


def _expected(value: object) -> object:
    """What a cell should read back as: NaN, infinities, None and "" are empty cells."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value == "":
        return None
    if isinstance(value, str):  # text that is empty once control characters go: empty cell
        return clean_text(value) or None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    return value.item() if isinstance(value, np.generic) else value


@pytest.mark.parametrize("chunk_rows", [1, 3, 10_000])
def test_round_trip_openpyxl_read_only(chunk_rows: int) -> None:
    frame = _table()
    rows = _rows(_write(frame, chunk_rows=chunk_rows))
    assert rows[0] == tuple(frame.columns)
    assert len(rows) == len(frame) + 1
    for got, want in zip(rows[1:], frame.itertuples(index=False), strict=True):
        assert list(got) == [_expected(v) for v in want]
    assert rows[3][0] == "=1+1"  # text, never a formula
    assert isinstance(rows[1][3], int) and isinstance(rows[1][1], float)
    assert rows[6][0] == LONG


def test_round_trip_pandas() -> None:
    frame = _table()
    back = pd.read_excel(io.BytesIO(_write(frame)), dtype={"client_id": object})
    want = frame.replace([np.inf, -np.inf], np.nan).replace("", np.nan)
    pd.testing.assert_frame_equal(back, want, check_dtype=False)
    assert back["spend"].dtype == np.float64 and back["owned_offers"].dtype == np.int64


def test_header_bold_frozen_filtered_formats_and_widths() -> None:
    data = _write(_table(), sheet="next-best offers")
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None and sheet.title == "next-best offers"
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert not any(cell.font.b for cell in sheet[2])
    assert sheet.auto_filter.ref == "A1:F8"
    assert sheet["B2"].number_format == "#,##0.00"
    assert sheet["C2"].number_format == "0.0000"
    assert sheet["A4"].data_type == "s" and sheet["A4"].value == "=1+1"
    assert sheet.column_dimensions["A"].width == 60  # the long text, capped
    assert sheet.column_dimensions["D"].width >= len("owned_offers")


def test_parts_are_well_formed_and_deflated() -> None:
    with zipfile.ZipFile(io.BytesIO(_write(_table()))) as book:
        names = set(book.namelist())
        assert names >= {
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/worksheets/sheet1.xml",
        }
        for info in book.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            ElementTree.fromstring(book.read(info.filename))
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and 't="str"' not in sheet
    assert '<t xml:space="preserve"> lead</t>' in sheet
    assert "<t>Клиент-2</t>" in sheet  # no preserve where none is needed


def test_illegal_characters_dropped_and_excel_escapes_kept_literal() -> None:
    frame = pd.DataFrame({"text": ["a\x00b\x01c\x1f\ufffe", "ok\x0b", "_x0041_"]})
    data = _write(frame)
    assert [row[0] for row in _rows(data)[1:3]] == ["abc", "ok"]
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "_x005F_x0041_" in sheet  # Excel decodes _xHHHH_; this keeps the text as written


def test_empty_table_and_no_rows() -> None:
    assert _rows(_write(pd.DataFrame({"a": pd.Series([], dtype=object), "b": []}))) == [("a", "b")]
    with zipfile.ZipFile(io.BytesIO(_write(pd.DataFrame()))) as book:
        assert book.testzip() is None


def test_bad_sheet_name() -> None:
    with pytest.raises(ValueError, match="sheet name"):
        _write(_table(), sheet="a/b")


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702, 16_383)] == [
        "A",
        "Z",
        "AA",
        "ZZ",
        "AAA",
        "XFD",
    ]


_text = st.text(st.characters(codec="utf-8"), max_size=30).filter(lambda t: "_x" not in t)
_floats = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def _frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    columns: dict[str, object] = {}
    for j in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["text", "float", "int", "bool"]))
        name = f"{kind}_{j}"
        if kind == "text":
            columns[name] = pd.Series(draw(st.lists(st.none() | _text, min_size=n, max_size=n)))
        elif kind == "float":
            columns[name] = np.array(draw(st.lists(_floats, min_size=n, max_size=n)), float)
        elif kind == "int":
            values = draw(st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n))
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    return pd.DataFrame(columns, index=range(n))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), chunk_rows=st.integers(1, 5))
def test_property_round_trip(frame: pd.DataFrame, chunk_rows: int) -> None:
    rows = _rows(_write(frame, chunk_rows=chunk_rows))
    assert rows[0] == tuple(frame.columns)
    assert len(rows) == len(frame) + 1
    for got, want in zip(rows[1:], frame.itertuples(index=False), strict=True):
        assert list(got) == [_expected(v) for v in want]
