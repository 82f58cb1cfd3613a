"""CSV as Excel and 1C write it in Russia: Windows-1251, ';' between fields, decimal commas.

``read_csv`` reads every cell as text. The encoding is UTF-16 when the file starts with its
byte-order mark (Excel's "Unicode text", tab separated), else UTF-8 (a mark is dropped), else
Windows-1251, the encoding of Russian Windows exports (any byte sequence decodes, so it is
the fallback, reported in ``Dialect``). The field separator is the one of ``,`` ``;`` and tab
that the header line holds most of. A ``;``-separated file is what Excel writes where the comma
is the decimal separator, so in such a file numbers may read ``1 234,5``: ``decimal_points``
rewrites them as ``1234.5`` in the columns given, and in any other column whose every value is
such a number (extra client columns the ranker reads as numbers).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ENCODINGS = ("utf-8-sig", "cp1251")
SNIFF_BYTES = 1 << 20
SEPARATORS = (",", ";", "\t")
#: A number as written with a decimal comma: ``-1 234,5`` (space or no-break space groups).
_COMMA_NUMBER = re.compile(r"^-?(\d{1,3}([ \u00a0]\d{3})+|\d+)(,\d+)?$")
_MARK = "[, \u00a0]"


@dataclass(frozen=True)
class Dialect:
    encoding: str
    separator: str

    @property
    def decimal_comma(self) -> bool:
        return self.separator == ";"

    def describe(self) -> str:
        names = {",": "','", ";": "';'", "\t": "tab"}
        text = {"utf-8-sig": "UTF-8", "cp1251": "Windows-1251", "utf-16": "UTF-16"}[self.encoding]
        return f"{text}, fields separated by {names[self.separator]}"


def sniff(path: Path) -> Dialect:
    """The encoding and field separator of a CSV file, from its first ``SNIFF_BYTES`` (see the
    module; a later byte that is not UTF-8 fails the read itself, with its position)."""
    with path.open("rb") as handle:
        data = handle.read(SNIFF_BYTES)
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # Excel "Unicode text"
    for encoding in ("utf-16",) if utf16 else ENCODINGS:
        try:  # incremental: a character cut at the end of the sample is not an error
            text = codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        except UnicodeDecodeError:
            continue
        header = text.split("\n", 1)[0]
        separator = max(SEPARATORS, key=header.count)  # ties: the comma, listed first
        return Dialect(encoding, separator)
    raise UnicodeDecodeError("cp1251", data, 0, 1, "not UTF-8 nor Windows-1251")


def read_csv(path: Path, dialect: Dialect) -> pd.DataFrame:
    """Every cell as text, blank cells as empty strings."""
    return pd.read_csv(
        path,
        sep=dialect.separator,
        encoding=dialect.encoding,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
        skip_blank_lines=False,  # kept (then skipped as blank rows), so lines stay counted
    )


def _points(values: pd.Series) -> pd.Series:
    return values.str.replace(r"[ \u00a0]", "", regex=True).str.replace(",", ".", regex=False)


def decimal_points(frame: pd.DataFrame, number_columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with decimal-comma numbers written with points: every such value of
    ``number_columns``, and every column made only of such numbers (a comma or a digit group
    in one at least: a column of plain integers is left as it is)."""
    out = frame.copy()
    numbers = set(number_columns)
    for name in out.columns:
        column = out[name]
        if not pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
            continue
        text = column.astype(str)
        present = text != ""
        matches = text.str.match(_COMMA_NUMBER)
        if name in numbers:
            out[name] = text.where(~matches, _points(text))
        elif present.any() and matches[present].all() and text[present].str.contains(_MARK).any():
            out[name] = text.where(~present, _points(text))
    return out
