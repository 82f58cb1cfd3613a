"""A small streaming XLSX (Office Open XML SpreadsheetML) writer for one sheet of a table.

The workbook is a zip (deflate, level 1) of the minimal parts: ``[Content_Types].xml``,
``_rels/.rels``, ``docProps/app.xml``/``core.xml``, ``xl/workbook.xml`` (with the autofilter's
defined name), its rels, ``xl/styles.xml`` (bold, shaded header; ``#,##0.00`` and ``0.0000``
number formats) and ``xl/worksheets/sheet1.xml``: a frozen header row, column widths, the
rows and an autofilter over the header.

The sheet XML is built a chunk of rows at a time without a Python call per cell: each column
becomes a few arrays of string pieces (text is escaped once per distinct value, numbers are
formatted by numpy), the pieces of a chunk are laid out row by row in one 2-D object array and
joined with a single ``str.join``, and the bytes go straight into the zip entry. Memory stays
bounded by the chunk. Strings are always inline strings (``t="inlineStr"``), never formulas,
so a value such as ``=1+1`` stays text; characters XML cannot hold are dropped. NaN, infinite
and missing values, and empty strings, are empty cells.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

#: Rows per chunk of sheet XML (bounds memory: a chunk is at most a few tens of MiB).
CHUNK_ROWS = 10_000
#: Deflate level: 1 is several times faster than the default 6 for ~15 % bigger files.
COMPRESS_LEVEL = 1
#: Column widths (characters) and how many values of a column size it.
MIN_WIDTH, MAX_WIDTH, WIDTH_SAMPLE = 8, 60, 1_000
#: Style ids in ``styles.xml``'s ``cellXfs``.
STYLE_HEADER, STYLE_MONEY, STYLE_SHARE = 1, 2, 3

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ILLEGAL_BUT_SEPARATOR = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_EXCEL_ESCAPE = re.compile("(_x[0-9A-Fa-f]{4}_)")  # Excel reads these as a character code
# xml:space="preserve" for leading/trailing XML white space, tabs, line breaks, runs of spaces
_XML_SPACE = frozenset(" \t\n\r")
_NEEDS_PRESERVE = re.compile(r"^[ \t\n\r]|[ \t\n\r]$|[\t\n\r]|  ")
_SEPARATOR = "\x00"  # cannot be in clean text; joins distinct values for escaping in bulk
_MAYBE_PRESERVE = re.compile("[\t\n\r]|  | \x00|\x00 ")
_OPEN_TEXT, _OPEN_PRESERVED = (
    '" t="inlineStr"><is><t>',
    '" t="inlineStr"><is><t xml:space="preserve">',
)
_CLOSE_TEXT = "</t></is></c>"
_MAX_ROWS, _MAX_COLUMNS = 1_048_576, 16_384

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = (
    _DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _DECL + f'<Relationships xmlns="{_PKG_REL_NS}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _DECL + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_APP = (
    _DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>recommender</Application></Properties>'
)
_STYLES = (
    _DECL + f'<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00"/>'
    '<numFmt numFmtId="165" formatCode="0.0000"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/>'
    '<bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom>'
    "<diagonal/></border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" '
    'applyFill="1" applyBorder="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def clean_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold (control characters, surrogates)."""
    return _ILLEGAL.sub("", value)


def _header_body(value: str) -> str:
    """The rest of a header cell after its reference: bold inline text (or an empty cell)."""
    (text,), (preserve,) = _escape_all([value])
    if not text:
        return f'" s="{STYLE_HEADER}"/>'
    opening = _OPEN_PRESERVED if preserve else _OPEN_TEXT
    return f'" s="{STYLE_HEADER}"' + opening[1:] + text + _CLOSE_TEXT


def _number_style(name: str, series: pd.Series) -> int:
    if series.dtype.kind != "f":
        return 0
    return STYLE_SHARE if name.endswith(("probability", "progress")) else STYLE_MONEY


def _escape_all(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """``texts`` cleaned and escaped for ``<t>``, and where each needs ``xml:space``.

    The common case is done on one joined string (a few C-speed passes over all the text);
    text holding the separator, or one that needs cleaning, goes one value at a time.
    """
    blob = _SEPARATOR.join(texts)
    if blob.count(_SEPARATOR) != max(len(texts) - 1, 0) or _ILLEGAL_BUT_SEPARATOR.search(blob):
        cleaned = [clean_text(t) for t in texts]
        preserve = np.fromiter((bool(_NEEDS_PRESERVE.search(t)) for t in cleaned), bool)
        return [_escape_text(t) for t in cleaned], preserve
    if _MAYBE_PRESERVE.search(blob) or blob[:1] in _XML_SPACE or blob[-1:] in _XML_SPACE:
        preserve = np.fromiter((bool(_NEEDS_PRESERVE.search(t)) for t in texts), bool)
    else:
        preserve = np.zeros(len(texts), dtype=bool)
    return _escape_text(blob).split(_SEPARATOR), preserve


def _escape_text(text: str) -> str:
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;") if "\r" in text else text


def _text_pieces(values: pd.Series) -> list[np.ndarray]:
    """Three pieces per cell: each distinct value is escaped once, then taken by its code."""
    missing = values.isna().to_numpy()
    codes, uniques = pd.factorize(values.astype(object).where(~missing, ""), sort=False)
    texts, preserve = _escape_all([u if type(u) is str else str(u) for u in uniques])
    text = np.asarray(texts, dtype=object)
    empty = text == ""
    opening = np.where(preserve, _OPEN_PRESERVED, _OPEN_TEXT).astype(object)
    opening[empty] = '"/>'
    closing = np.where(empty, "", _CLOSE_TEXT).astype(object)
    return [opening[codes], text[codes], closing[codes]]


def _number_pieces(values: pd.Series, style: int) -> list[np.ndarray]:
    """Three pieces per cell: the opening with the style, the number, the closing."""
    if values.dtype.kind == "b":
        array = values.to_numpy().astype(np.int8)
        opening, closing = '" t="b"><v>', "</v></c>"
    elif isinstance(values.dtype, pd.api.extensions.ExtensionDtype):  # nullable: NA -> NaN
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        opening = f'" s="{style}"><v>' if style else '"><v>'
        closing = "</v></c>"
    else:
        array = values.to_numpy()
        opening = f'" s="{style}"><v>' if style else '"><v>'
        closing = "</v></c>"
    text = array.astype(str).astype(object)
    if array.dtype.kind == "f":
        empty = ~np.isfinite(array)
        if empty.any():
            text[empty] = ""
            return [
                np.where(empty, '"/>', opening).astype(object),
                text,
                np.where(empty, "", closing).astype(object),
            ]
    size = len(array)
    return [np.full(size, opening, dtype=object), text, np.full(size, closing, dtype=object)]


def _is_number(series: pd.Series) -> bool:
    return series.dtype.kind in "biuf" and not isinstance(series.dtype, pd.CategoricalDtype)


def column_width(name: str, values: Sequence[object]) -> float:
    """Header or longest of the first values, within [MIN_WIDTH, MAX_WIDTH] characters."""
    longest = max((len(str(v)) for v in values[:WIDTH_SAMPLE]), default=0)
    return float(min(max(len(name) + 2, longest + 1, MIN_WIDTH), MAX_WIDTH))


def _sheet_head(names: list[str], widths: list[float], styles: list[int], n_rows: int) -> str:
    last = f"{column_letter(len(names) - 1)}{n_rows + 1}" if names else "A1"
    parts = [
        _DECL,
        f'<worksheet xmlns="{_NS}" xmlns:r="{_REL_NS}">',
        f'<dimension ref="A1:{last}"/>' if names else '<dimension ref="A1"/>',
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>',
        '<sheetFormatPr defaultRowHeight="15"/>',
    ]
    if names:
        parts.append("<cols>")
        for n, (width, style) in enumerate(zip(widths, styles, strict=True), start=1):
            styled = f' style="{style}"' if style else ""
            parts.append(f'<col min="{n}" max="{n}" width="{width:g}"{styled} customWidth="1"/>')
        parts.append("</cols>")
    parts.append("<sheetData>")
    header = "".join(
        f'<c r="{column_letter(n)}1{_header_body(name)}' for n, name in enumerate(names)
    )
    parts.append(f'<row r="1">{header}</row>')
    return "".join(parts)


def _sheet_tail(n_columns: int, n_rows: int) -> str:
    tail = "</sheetData>"
    if n_columns:
        tail += f'<autoFilter ref="A1:{column_letter(n_columns - 1)}{n_rows + 1}"/>'
    return tail + "</worksheet>"


def _workbook(sheet: str, n_columns: int, n_rows: int) -> str:
    name = escape(sheet, {'"': "&quot;"})
    defined = ""
    if n_columns:
        quoted = escape("'" + sheet.replace("'", "''") + "'")
        area = f"$A$1:${column_letter(n_columns - 1)}${n_rows + 1}"
        defined = (
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" '
            f'hidden="1">{quoted}!{area}</definedName></definedNames>'
        )
    return (
        _DECL + f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>{defined}</workbook>'
    )


def _core() -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        _DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>recommender</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        "</cp:coreProperties>"
    )


def _check_sheet_name(sheet: str) -> None:
    if not 0 < len(sheet) <= 31 or any(c in sheet for c in "[]:*?/\\"):
        raise ValueError(f"invalid sheet name {sheet!r}")


def write_xlsx(
    frame: pd.DataFrame,
    stream: BinaryIO,
    sheet: str = "Sheet1",
    chunk_rows: int = CHUNK_ROWS,
) -> None:
    """Write ``frame`` (header + rows, no index) to ``stream`` as a one-sheet XLSX workbook.

    Float columns named ``*probability``/``*progress`` show 4 decimals, other floats 2 with a
    thousands separator (the cells keep the exact numbers); widths come from the header and
    the first values; the header is bold and frozen, with an autofilter.
    """
    _check_sheet_name(sheet)
    n_rows, n_columns = frame.shape
    if n_rows + 1 > _MAX_ROWS or n_columns > _MAX_COLUMNS:
        raise ValueError(f"{n_rows:,} rows x {n_columns:,} columns do not fit in a sheet")
    names = [str(c) for c in frame.columns]
    numbers = [_is_number(frame.iloc[:, n]) for n in range(n_columns)]
    styles = [_number_style(name, frame.iloc[:, n]) for n, name in enumerate(names)]
    widths = [
        column_width(name, frame.iloc[:WIDTH_SAMPLE, n].tolist()) for n, name in enumerate(names)
    ]
    references = [f'<c r="{column_letter(n)}' for n in range(n_columns)]
    # a rough size: zip64 only when the sheet could pass the 4 GiB of plain zip entries
    zip64 = (n_rows + 1) * max(n_columns, 1) * 120 > 2**32
    with zipfile.ZipFile(
        stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("docProps/app.xml", _APP)
        book.writestr("docProps/core.xml", _core())
        book.writestr("xl/workbook.xml", _workbook(sheet, n_columns, n_rows))
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        book.writestr("xl/styles.xml", _STYLES)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=zip64) as part:
            part.write(_sheet_head(names, widths, styles, n_rows).encode())
            for start in range(0, n_rows, chunk_rows):
                chunk = frame.iloc[start : start + chunk_rows]
                size = len(chunk)
                row_numbers = np.arange(start + 2, start + 2 + size).astype(str).astype(object)
                pieces: list[np.ndarray] = [np.full(size, '<row r="', dtype=object), row_numbers]
                pieces.append(np.full(size, '">', dtype=object))
                for n in range(n_columns):
                    values = chunk.iloc[:, n]
                    pieces.append(np.full(size, references[n], dtype=object))
                    pieces.append(row_numbers)
                    if numbers[n]:
                        pieces.extend(_number_pieces(values, styles[n]))
                    else:
                        pieces.extend(_text_pieces(values))
                pieces.append(np.full(size, "</row>", dtype=object))
                grid = np.empty((size, len(pieces)), dtype=object)
                for n, column in enumerate(pieces):
                    grid[:, n] = column
                part.write("".join(grid.ravel().tolist()).encode())
            part.write(_sheet_tail(n_columns, n_rows).encode())
