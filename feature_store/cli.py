"""``recsys features ...`` and ``recsys events ...``: materialize, inspect, flush.

Also runnable alone for subprocesses and tests: ``python -m feature_store.cli events flush``.
The stores (pandas, redis) are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from feature_store.settings import OnlineStoreSettings

features_app = typer.Typer(help="Online feature store (Redis): materialize, status.")
events_app = typer.Typer(help="The live event log: flush it into the offline store.")
console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $RECSYS_DATA_DIR or ./data)."),
]


#: ``feature_store.flush.DEFAULT_CONSUMER`` (that module loads pandas and redis; a test checks).
DEFAULT_CONSUMER = "flusher-1"
#: ``feature_store.flush_lease.DEFAULT_TTL_S`` (a test checks that the two stay equal).
DEFAULT_LEASE_S = 5.0
#: Console width when stdout is not a terminal: no table column is cut.
PIPE_WIDTH = 1000


class ListFormat(StrEnum):
    """How a listing prints: a table for people, JSON or CSV (on stdout) for programs."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def _settings(data_dir: Path | None) -> OnlineStoreSettings:
    from feature_store.settings import OnlineStoreSettings

    return OnlineStoreSettings(data_dir=data_dir) if data_dir else OnlineStoreSettings()


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@features_app.command("materialize")
def materialize_command(
    data_dir: DataDir = None,
    batch: Annotated[int, typer.Option(min=1, help="Clients per write.")] = 10_000,
) -> None:
    """Copy clients, owned offers and the catalog from the offline store into Redis."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from feature_store.embedded import open_store
    from feature_store.errors import FeatureStoreError
    from feature_store.materialize import materialize
    from feature_store.offline import OfflineStore

    settings = _settings(data_dir).model_copy(update={"write_batch": batch})
    try:
        store = open_store(settings)
        offline = OfflineStore(settings.data_dir)
        console.print(f"materializing into {settings.display_url}")
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("clients", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = materialize(store, offline, progress=advance)
    except FeatureStoreError as exc:
        raise _fail(exc) from None
    for name, value in report.as_dict().items():
        console.print(f"  {name:<22} {value:,}")
    typer.echo(f"materialized {report.clients:,} clients, {report.items:,} items")


@features_app.command("status")
def status_command(data_dir: DataDir = None) -> None:
    """Is the online store reachable, and what did the last materialize write?"""
    from feature_store.embedded import open_store
    from feature_store.errors import FeatureStoreError
    from feature_store.events import EventLog

    settings = _settings(data_dir)
    try:
        store = open_store(settings)
        if not store.ping():
            raise _fail(RuntimeError(f"online store at {settings.display_url} does not answer"))
        meta: dict[str, Any] = dict(store.metadata())
        meta["stream_entries"] = EventLog(store).length()
    except FeatureStoreError as exc:
        raise _fail(exc) from None
    typer.echo(f"online store: {settings.display_url} (up)")
    for name, value in sorted(meta.items()):
        typer.echo(f"  {name}: {value}")


@events_app.command("flush")
def flush_command(
    data_dir: DataDir = None,
    batch: Annotated[int, typer.Option(min=1, help="Events per Parquet write.")] = 500,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep running and flush new events as they come, until Ctrl-C or SIGTERM "
            "(a daemon). Without it the command stops when the stream is drained.",
        ),
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", hidden=True, help="The default: stop when drained.")
    ] = False,
    consumer: Annotated[str, typer.Option(help="Consumer name in the group.")] = DEFAULT_CONSUMER,
    lease_s: Annotated[
        float,
        typer.Option(
            "--lease-s",
            min=0.1,
            help="Seconds the flush lease outlives a flusher that dies; another flusher "
            "waits that long before it takes over.",
        ),
    ] = DEFAULT_LEASE_S,
) -> None:
    """Move events from the Redis Stream into Parquet (at-least-once + dedupe by event id).

    One pass by default: flush what the stream holds, then exit (for cron or a one-shot job);
    --follow keeps flushing until stopped. One flusher writes at a time (a lease in Redis):
    a second one-pass run leaves the stream to the running one, a second daemon stands by.
    Entries that cannot be written go to the dead-letter stream (`recsys events dead-letters`).
    """
    from feature_store.embedded import open_store
    from feature_store.errors import FeatureStoreError
    from feature_store.flush import PAUSE_ENV, Flusher
    from feature_store.flush_lease import LeaseLostError
    from feature_store.offline import OfflineStore

    if once and follow:
        raise typer.BadParameter("--once and --follow exclude each other", param_hint="--follow")
    settings = _settings(data_dir)
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        flusher = Flusher(
            open_store(settings),
            OfflineStore(settings.data_dir),
            batch=batch,
            consumer=consumer,
            pause_after_write_s=pause,
            lease_ttl_s=lease_s,
        )
        if follow:
            console.print(f"flushing {settings.display_url} -> Parquet (Ctrl-C to stop)")
            flusher.run_forever(should_stop=lambda: bool(stopping))
        else:
            flusher.run_once()
    except (FeatureStoreError, LeaseLostError) as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        pass
    report = flusher.report
    if report.lease_holder is not None:
        console.print(
            f"another flusher ({report.lease_holder}) holds the flush lease and is flushing "
            "the stream; this run flushed nothing",
            soft_wrap=True,
        )
    if report.dead_lettered:
        console.print(
            f"[yellow]{report.dead_lettered:,} entries could not be written[/yellow]: "
            "see `recsys events dead-letters`",
            soft_wrap=True,
        )
    typer.echo(
        f"flushed {report.written:,} events ({report.duplicates:,} duplicates skipped, "
        f"{report.dead_lettered:,} dead-lettered) in {report.batches:,} batches"
    )


@events_app.command("dead-letters")
def dead_letters_command(
    data_dir: DataDir = None,
    limit: Annotated[
        int, typer.Option(min=1, help="List at most this many, oldest first.")
    ] = 1_000,
    fmt: Annotated[
        ListFormat,
        typer.Option("--format", case_sensitive=False, help="table, json or csv (on stdout)."),
    ] = ListFormat.TABLE,
) -> None:
    """List the stream entries the flusher could not write, with the error and their id."""
    from feature_store.dead_letters import DeadLetters
    from feature_store.embedded import open_store
    from feature_store.errors import FeatureStoreError

    try:
        letters = DeadLetters(open_store(_settings(data_dir)))
        total, rows = letters.count(), [letter.as_row() for letter in letters.list(limit)]
    except FeatureStoreError as exc:
        raise _fail(exc) from None
    if fmt is ListFormat.JSON:
        typer.echo(json.dumps(rows, indent=2))
    elif fmt is ListFormat.CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(_DEAD_LETTER_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "fields": json.dumps(row["fields"])} for row in rows)
        typer.echo(out.getvalue(), nl=False)
    else:
        _print_dead_letters(rows, total)


_DEAD_LETTER_COLUMNS = ("entry_id", "field", "error", "dead_lettered_at", "fields")


def _print_dead_letters(rows: list[dict[str, Any]], total: int) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(*_DEAD_LETTER_COLUMNS)
    for row in rows:
        cells = {**row, "field": row["field"] or "", "fields": json.dumps(row["fields"])}
        table.add_row(*(Text(cells[c]) for c in _DEAD_LETTER_COLUMNS))  # no markup: raw input
    width = None if sys.stdout.isatty() else PIPE_WIDTH  # rich cuts columns at 80 in a pipe
    Console(width=width).print(table)
    shown = f" ({len(rows):,} shown)" if len(rows) < total else ""
    typer.echo(f"{total:,} dead letters{shown}")


def _standalone() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    app.add_typer(features_app, name="features")
    app.add_typer(events_app, name="events")
    return app


if __name__ == "__main__":
    _standalone()()
