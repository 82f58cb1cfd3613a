"""``recsys data``: generate synthetic data, import real data into the offline store."""

from __future__ import annotations

import typer

data_app = typer.Typer(
    help="Generate sample data or import real data into the offline store.",
    no_args_is_help=True,
)
