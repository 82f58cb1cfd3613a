"""The ``recsys`` command line: one entry point, one sub-command group per job family.

Each group lives in the package that owns the work (data import here in ``training``,
``features``/``events`` in ``feature_store``, ``serve`` in ``serving``); this module only wires
them together.
"""

from __future__ import annotations

import gc

import typer

from feature_store.cli import events_app, features_app
from feature_store.cli_store import store_app
from serving.cli import serve_app
from training.cli.ab import ab_app
from training.cli.churn import churn_app
from training.cli.data import data_app
from training.cli.evaluate import evaluate_command
from training.cli.nbo import nbo_app
from training.cli.quickstart import quickstart_command
from training.cli.train import register as register_training
from training.progress import mark_command_process

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
app.add_typer(ab_app, name="ab")
app.add_typer(churn_app, name="churn")
app.add_typer(nbo_app, name="nbo")
app.add_typer(serve_app, name="serve")
app.add_typer(features_app, name="features")
app.add_typer(events_app, name="events")
app.add_typer(store_app, name="store")
app.command("evaluate")(evaluate_command)
app.command("quickstart")(quickstart_command)
register_training(app)


def main() -> None:
    """Console-script entry point."""
    mark_command_process()
    try:
        app()
    finally:
        # The process ends here: exempt every object alive from the garbage collections the
        # interpreter runs while it tears down (over the few hundred thousand objects of MLflow,
        # pandas, numba... they take a second or more; atexit handlers still run).
        gc.freeze()


if __name__ == "__main__":
    main()
