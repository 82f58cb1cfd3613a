"""``recsys data``: generate synthetic data, import real data into the offline store."""

from __future__ import annotations

import typer

from training.cli.data_generate import generate_command
from training.cli.data_import import import_command, import_movielens_command

data_app = typer.Typer(
    help="Generate sample data or import real data into the offline store.",
    no_args_is_help=True,
)
data_app.command("generate")(generate_command)
data_app.command("import")(import_command)
data_app.command("import-movielens")(import_movielens_command)
