"""``recsys data import`` and ``recsys data import-movielens``: real data into the offline store.

Files are validated (``recommender.schema``), checked against each other and against the tables
of the current snapshot they are merged with (``recommender.integrity``), and land in the
offline store as one new snapshot, or not at all. Bad input (including a timestamp outside
the range of ``recommender.bounds``) exits with code 2 and a message naming file, row, column
and reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from training.cli.common import table_console

if TYPE_CHECKING:
    from rich.console import Console

    from recommender.integrity import ImportReport, OnUnknown

PathLike = str | os.PathLike[str]


class OnUnknownChoice(StrEnum):
    ERROR = "error"
    SKIP = "skip"


def import_files(
    files: Mapping[str, PathLike],
    *,
    data_dir: PathLike | None = None,
    on_unknown: OnUnknown = "error",
    columns: Mapping[str, str] | None = None,
) -> tuple[str, ImportReport]:
    """Import any subset of the tables from CSV / Excel / Parquet files; returns (snapshot,
    report).

    Tables not given are kept from the current snapshot and checked with the new ones.
    ``columns`` maps a file's header to a schema column (``recommender.table_files``).
    """
    from feature_store.offline import TABLES, OfflineStore
    from recommender.integrity import check_integrity, offer_names
    from recommender.schema import Source
    from recommender.table_files import read_tables, same_table
    from recommender.wide import warn_offer_attributes

    unknown = sorted(set(files) - set(TABLES))
    if unknown or not files:
        raise ValueError(f"give at least one of {', '.join(TABLES)} (got {sorted(files)})")
    store = OfflineStore(data_dir)
    current = store.current_snapshot()
    kept = [name for name in store.tables() if name not in files]
    tables = {name: store.read_table(name) for name in kept}
    sources = {name: Source(f"{store.root}/snapshots/{current}/{name}.parquet") for name in kept}
    # items first: a wide file names offers; interactions before clients: a wide file may hold
    # the clients' attributes (its columns that are no offers) when --clients gives no other
    # file, and then it is the clients table
    own_clients = "clients" in files and not (
        "interactions" in files
        and same_table(files["clients"], files["interactions"], ("clients", "interactions"))
    )
    read: set[str] = set()
    for name in sorted(files, key=("items", "interactions", "clients").index):
        if name in read:
            continue  # the portfolio file given as --clients too: its attributes were read
        catalogue = tables.get("items") if name == "interactions" else None
        # a wide file's columns may be offers' ids or names
        offers = [] if catalogue is None else [*catalogue["item_id"], *offer_names(catalogue)]
        attributes = name == "interactions" and not own_clients
        for table, (frame, source) in read_tables(
            files[name], name, offers=offers, columns=columns, attributes=attributes
        ).items():
            tables[table], sources[table] = frame, source
            read.add(table)
        if name == "clients" and "items" in tables:
            items = tables["items"]
            warn_offer_attributes(frame, [*items["item_id"], *offer_names(items)], str(files[name]))
    tables = {name: tables[name] for name in TABLES if name in tables}
    clean, report = check_integrity(tables, on_unknown=on_unknown, sources=sources)
    return store.write_snapshot(clean), report


def import_movielens(
    path: PathLike | None = None, *, data_dir: PathLike | None = None
) -> tuple[str, ImportReport]:
    """Import the ml-100k folder at ``path`` as the whole offline snapshot."""
    from feature_store.offline import OfflineStore
    from recommender.integrity import check_integrity
    from recommender.movielens import default_ml100k_path, load_movielens_100k
    from recommender.schema import Source, validate_table

    interactions, clients, items = load_movielens_100k(path)
    folder = Path(path) if path is not None else default_ml100k_path()
    ratings = Source(str(folder / "u.data"), header_lines=0)
    tables = {
        "interactions": validate_table(interactions, "interactions", source=ratings),
        "clients": clients,
        "items": items,
    }
    sources = {
        "interactions": ratings,
        "clients": Source(str(folder / "u.user"), 0),
        "items": Source(str(folder / "u.item"), 0),
    }
    clean, report = check_integrity(tables, on_unknown="error", sources=sources)
    return OfflineStore(data_dir).write_snapshot(clean), report


def render_report(report: ImportReport, snapshot: str, console: Console) -> None:
    """Rows read / kept per table and the count and first example of each problem."""
    from rich.table import Table

    from recommender.integrity import PROBLEM_KINDS

    rows = Table(title=f"Imported into snapshot {snapshot}")
    for column in ("table", "rows read", "rows kept", "skipped"):
        rows.add_column(column, justify="left" if column == "table" else "right")
    for name, read in report.rows_read.items():
        kept = report.rows_kept.get(name, 0)
        rows.add_row(name, f"{read:,}", f"{kept:,}", f"{read - kept:,}")
    console.print(rows)
    if not report.problems:
        console.print("No unknown ids or duplicates found.")
        return
    problems = Table(title="Problems (counted, not silently dropped)")
    problems.add_column("problem")
    problems.add_column("count", justify="right")
    problems.add_column("first example", overflow="fold")
    for kind, count in report.problems.items():
        example = (report.examples.get(kind) or [""])[0]
        problems.add_row(PROBLEM_KINDS.get(kind, kind), f"{count:,}", example)
    console.print(problems)


def _run(action: str, job: Callable[[], tuple[str, ImportReport]]) -> None:
    """Run an import and turn expected failures into exit code 2 with a plain message."""
    from feature_store.errors import OfflineStoreError
    from recommender.schema import DataValidationError

    try:
        snapshot, report = job()
    except (DataValidationError, OfflineStoreError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"{action} failed, nothing was written:\n{exc}", err=True)
        raise typer.Exit(code=2) from None
    render_report(report, snapshot, table_console())


def import_command(
    items: Annotated[
        Path | None, typer.Option("--items", help="Catalog items, CSV, Excel .xlsx or Parquet.")
    ] = None,
    clients: Annotated[
        Path | None, typer.Option("--clients", help="Clients with features, CSV, .xlsx or Parquet.")
    ] = None,
    interactions: Annotated[
        Path | None,
        typer.Option(
            "--interactions",
            help=(
                "Interactions, long or one row per client and a column per offer (its other "
                "columns: the clients' attributes); CSV, .xlsx or Parquet."
            ),
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $RECSYS_DATA_DIR or ./data)."),
    ] = None,
    on_unknown: Annotated[
        OnUnknownChoice,
        typer.Option(
            "--on-unknown", help="Interactions with unknown ids: abort (error) or skip and count."
        ),
    ] = OnUnknownChoice.ERROR,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            metavar="HEADER=COLUMN",
            help="Read a file's header as a schema column (repeatable), e.g. 'Партнёр=client_id'.",
        ),
    ] = None,
) -> None:
    """Import CSV / Excel / Parquet tables into the offline store (tables not given are kept).

    List columns (tags, prerequisites) are ';'-separated in CSV; timestamps are ISO 8601 or
    one local format per column (31.12.2024, 31/12/2024, 12/31/2024; ambiguous columns are an
    error; naive means UTC), from 1990-01-01 to 1 day ahead, as at the events API
    (recommender.bounds). Russian headers (Код клиента, Отрасль, Услуга, Дата, Наименование,
    Вид, Цена) are read as the columns a file does not name itself, each said; offers and
    clients may be named by their names. A workbook of several sheets gives each table the
    sheet named as it (Клиенты, Услуги, Продажи). Unknown ids and duplicates are counted and
    reported.
    """
    given = {"items": items, "clients": clients, "interactions": interactions}
    files: dict[str, PathLike] = {k: v for k, v in given.items() if v is not None}
    if not files:
        typer.echo("give at least one of --items, --clients, --interactions", err=True)
        raise typer.Exit(code=2)
    mode: OnUnknown = "skip" if on_unknown is OnUnknownChoice.SKIP else "error"
    try:
        mapping = column_mapping(column or [])
    except ValueError as exc:
        typer.echo(f"--column: {exc}", err=True)
        raise typer.Exit(code=2) from None
    _run(
        "import",
        lambda: import_files(files, data_dir=data_dir, on_unknown=mode, columns=mapping),
    )


def column_mapping(pairs: list[str]) -> dict[str, str]:
    """``HEADER=COLUMN`` pairs as ``{header: column}``; a column no table has, a pair without
    ``=`` or a header given twice is a ``ValueError`` naming it."""
    from recommender.schema import SCHEMAS

    known = sorted({spec.name for specs in SCHEMAS.values() for spec in specs})
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, sep, target = pair.partition("=")
        header, target = header.strip(), target.strip()
        if not sep or not header or not target:
            raise ValueError(f"{pair!r} is not HEADER=COLUMN")
        if target not in known:
            raise ValueError(f"{target!r} is no column of the schema ({', '.join(known)})")
        if header in mapping:
            raise ValueError(f"header {header!r} is mapped twice")
        mapping[header] = target
    return mapping


def import_movielens_command(
    path: Annotated[
        Path | None,
        typer.Argument(help="Folder with u.data, u.user, u.item, u.genre (default: $ML100K_PATH)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $RECSYS_DATA_DIR or ./data)."),
    ] = None,
) -> None:
    """Import MovieLens-100k: ratings as 'usage' events, demographics and genres as features."""
    _run("import-movielens", lambda: import_movielens(path, data_dir=data_dir))


__all__ = [
    "import_command",
    "import_files",
    "import_movielens",
    "import_movielens_command",
    "render_report",
]
