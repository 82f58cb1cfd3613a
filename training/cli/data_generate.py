"""``recsys data generate``: write a synthetic catalog, clients and events to a folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from recommender import paths

if TYPE_CHECKING:
    from recommender.synthetic.writer import FileFormat


def generate_command(
    clients: Annotated[
        int, typer.Option("--clients", min=1, help="Number of client organisations to generate.")
    ] = 500,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same seed gives identical files.")
    ] = 42,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: <data dir>/sample, see RECSYS_DATA_DIR)."),
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="File format: csv (lists joined by ';') or parquet.")
    ] = "csv",
    start: Annotated[
        str, typer.Option(help="First day of the event window (YYYY-MM-DD).")
    ] = "2023-07-01",
    end: Annotated[str, typer.Option(help="Day after the last event (YYYY-MM-DD).")] = "2025-07-01",
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Clients generated per chunk; bounds memory.")
    ] = 20_000,
) -> None:
    """Generate items, clients and interactions (CSV or Parquet) for N clients.

    Industry needs, hidden client tastes, bundles, course -> service funnels,
    prerequisites, renewals and cancellations shape the data, so that
    personalized models can beat the uniform offer. The same seed gives the
    same files; they appear atomically when generation is done.
    """
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from recommender.synthetic import SyntheticConfig, iter_chunks, write_tables

    if file_format not in ("csv", "parquet"):
        raise typer.BadParameter(f"{file_format!r} is not csv or parquet", param_hint="'--format'")
    fmt: FileFormat = "csv" if file_format == "csv" else "parquet"
    try:
        config = SyntheticConfig(
            n_clients=clients,
            seed=seed,
            start=_day(start, "--start"),
            end=_day(end, "--end"),
            chunk_size=chunk_size,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}"
                             for e in error.errors())  # fmt: skip
        raise typer.BadParameter(problems) from None
    target = out if out is not None else paths.sample_dir()
    console = Console(stderr=True)
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("clients"),
        TimeElapsedColumn(),
        console=console,
        disable=config.n_chunks == 1,
    ) as progress:
        task = progress.add_task("generate", total=config.n_clients)
        counts = write_tables(
            iter_chunks(config),
            target,
            fmt,
            on_chunk=lambda n_clients, _rows: progress.advance(task, n_clients),
        )
    typer.echo(
        f"wrote {counts['items']} items, {counts['clients']} clients and "
        f"{counts['interactions']} interactions ({fmt}) to {target}"
    )


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=option) from None
