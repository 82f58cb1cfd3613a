"""What the ``recsys`` commands share: light constants, output formats, consoles for tables.

Every command module imports this at load time, so it stays free of the heavy libraries
(pandas, numba, mlflow, scikit-learn...): ``recsys --help`` loads none of them.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console

#: The split rules of ``recommender.evaluation.splits.SPLIT_NAMES``, repeated here because that
#: module pulls in pandas and scipy (a test checks that the two stay equal).
SPLIT_NAMES: tuple[str, ...] = ("auto", "time", "snapshot", "leave_last", "stratified", "cold")

#: Console width when the output is not a terminal (a pipe or a file): wide enough that no
#: table column is cut (``varia…``); a table is only as wide as its content needs.
PIPE_WIDTH = 1000


class OutputFormat(StrEnum):
    """How a listing command prints: a rich table for people, CSV or JSON for programs."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="table (for people), csv or json (on stdout, for programs).",
        case_sensitive=False,
    ),
]


def check_split(split: str) -> None:
    """A ``--split`` value must be one of ``SPLIT_NAMES``."""
    if split not in SPLIT_NAMES:
        raise typer.BadParameter(
            f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}", param_hint="--split"
        )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def table_console(minimum_width: int = 0, *, stderr: bool = False) -> Console:
    """A console for tables: the terminal's width (at least ``minimum_width``) on a terminal,
    ``PIPE_WIDTH`` when piped or redirected, where rich would otherwise cut columns at 80."""
    if not _is_terminal(sys.stderr if stderr else sys.stdout):
        return Console(stderr=stderr, width=PIPE_WIDTH)
    console = Console(stderr=stderr)
    return Console(stderr=stderr, width=max(console.width, minimum_width))


def render_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: OutputFormat
) -> str:
    """``rows`` as CSV (a header, then one line per row) or as a JSON list of objects."""
    if fmt is OutputFormat.JSON:
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2) + "\n"
    if fmt is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: _csv_cell(row.get(c)) for c in columns} for row in rows)
        return buffer.getvalue()
    raise ValueError(f"render_rows writes csv or json, not {fmt}")


def _csv_cell(value: Any) -> Any:
    """Lists in a CSV cell are ``;``-separated, as the import formats expect; None is empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def print_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: OutputFormat
) -> None:
    """Write ``render_rows`` to stdout, unwrapped."""
    typer.echo(render_rows(rows, columns, fmt), nl=False)
