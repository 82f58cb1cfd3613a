"""The ``recsys`` command line: one entry point, one sub-command group per job family.

Each group lives in the package that owns the work (data import here in ``training``,
``features``/``events`` in ``feature_store``, ``serve`` in ``serving``); this module only wires
them together.
"""

from __future__ import annotations

import typer

from training.cli.data import data_app

app = typer.Typer(
    name="recsys",
    help=(
        "Personalized offer recommendations for B2B/B2G clients: tariffs, courses and add-on "
        "services.\n\nTypical flow: `recsys data generate` or `recsys data import`, then "
        "`recsys train`, `recsys promote`, `recsys serve`. `recsys quickstart` does it all "
        "on embedded defaults."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_app, name="data")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
