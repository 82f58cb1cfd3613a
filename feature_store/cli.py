"""``recsys features ...`` and ``recsys events ...``: materialize, inspect, flush.

Also runnable alone for subprocesses and tests: ``python -m feature_store.cli events flush``.
The stores (pandas, redis) are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import signal
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
) -> None:
    """Move events from the Redis Stream into Parquet (at-least-once + dedupe by event id).

    One pass by default: flush what the stream holds, then exit (for cron or a one-shot job);
    --follow keeps flushing until stopped.
    """
    from feature_store.embedded import open_store
    from feature_store.errors import FeatureStoreError
    from feature_store.flush import PAUSE_ENV, Flusher
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
        )
        if follow:
            console.print(f"flushing {settings.display_url} -> Parquet (Ctrl-C to stop)")
            flusher.run_forever(should_stop=lambda: bool(stopping))
        else:
            flusher.run_once()
    except FeatureStoreError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        pass
    report = flusher.report
    typer.echo(
        f"flushed {report.written:,} events ({report.duplicates:,} duplicates skipped, "
        f"{report.dead_lettered:,} dead-lettered) in {report.batches:,} batches"
    )


def _standalone() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    app.add_typer(features_app, name="features")
    app.add_typer(events_app, name="events")
    return app


if __name__ == "__main__":
    _standalone()()
