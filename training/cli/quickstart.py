"""``recsys quickstart``: the whole flow on embedded defaults, for a first look.

generate sample data -> validated import into the offline store -> materialize into the
(embedded) Redis -> train and register EASE (champion) and ALS (challenger) in MLflow ->
train and register the churn-risk model (champion; skipped with a note on data too small) ->
serve the API and pages on localhost. Every step is the same code the individual commands run.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from recommender.paths import DATA_DIR_ENV, data_dir, sample_dir

console = Console()

MODELS: tuple[tuple[str, str], ...] = (("ease", "champion"), ("als", "challenger"))


def quickstart_command(
    clients: Annotated[int, typer.Option(min=10, help="Synthetic clients to generate.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the generator and the models.")] = 42,
    data_dir_option: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $RECSYS_DATA_DIR or ./data)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the API when the rest is done.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
) -> None:
    """Generate sample data, build the stores, train, register and serve, with no configuration."""
    from feature_store.embedded import open_store
    from feature_store.materialize import materialize
    from feature_store.offline import OfflineStore
    from feature_store.settings import OnlineStoreSettings
    from recommender.synthetic import SyntheticConfig, generate
    from training.churn import ChurnTrainSettings, train_churn
    from training.cli.data_import import import_files
    from training.train import TrainSettings, train

    root = data_dir(data_dir_option)
    os.environ[DATA_DIR_ENV] = str(root)  # the served workers read the same directory
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    console.rule(f"[bold]recsys quickstart[/bold] in {root}")

    console.print(f"1/6 generating {clients:,} synthetic clients (seed {seed})")
    files = generate(SyntheticConfig(n_clients=clients, seed=seed)).write(sample_dir(root))

    console.print("2/6 importing into the offline store")
    snapshot, report = import_files(files, data_dir=root)
    console.print(f"    snapshot {snapshot}: rows kept {report.rows_kept}")

    console.print("3/6 materializing into the online store")
    settings = OnlineStoreSettings(data_dir=root)
    store = open_store(settings)
    result = materialize(store, OfflineStore(root))
    console.print(
        f"    {result.clients:,} clients, {result.items:,} items -> {settings.display_url}"
    )

    for step, (model, alias) in enumerate(MODELS, start=4):
        console.print(f"{step}/6 training {model} and registering it as {alias}")
        trained = train(TrainSettings(model=model, seed=seed), data_dir=root, alias=alias)
        shown = {k: round(v, 4) for k, v in trained.metrics.items() if k.count("_") <= 2}
        console.print(f"    version {trained.version}: {dict(list(shown.items())[:6])}")

    console.print("6/6 training the churn-risk model and registering it as champion")
    try:
        churn = train_churn(ChurnTrainSettings(seed=seed), data_dir=root, alias="champion")
    except ValueError as exc:  # too few clients for a backtest: the rest of the demo still runs
        console.print(f"    [yellow]skipped:[/yellow] {exc}")
    else:
        figures = {k: round(churn.report.model[k], 3) for k in ("roc_auc", "top_decile_lift")}
        console.print(
            f"    version {churn.version}: backtest {figures} at {churn.report.test_cutoff}"
        )

    keys_file = demo_keys(root)
    if not serve:
        console.print("done; start the API with `recsys serve`")
        return
    base = f"http://127.0.0.1:{port}"
    first_client = str(OfflineStore(root).read_table("clients")["client_id"].iloc[0])
    console.rule("[bold]open in a browser[/bold]")
    console.print(f"  account managers:    {base}/login  (keys in {keys_file})")
    console.print(f"  manager m001:        {base}/managers/m001")
    console.print(f"  data scientists:     {base}/ds  (admin key)")
    console.print(f"  client cabinet API:  {base}/v1/clients/{first_client}/recommendations")
    console.print(f"  API documentation:   {base}/docs")
    from serving.cli import serve as serve_api

    serve_api(host="127.0.0.1", port=port, workers=workers, log_level="warning")


def demo_keys(root: Path) -> Path:
    """API keys for the demo: taken from the environment, else made once per data directory.

    The keys are written to a file readable only by the owner (never printed or logged), and
    exported so the served workers use them.
    """
    path = root / "demo-keys.env"
    if not path.exists() and not os.environ.get("RECSYS_ADMIN_KEY"):
        lines = [
            f"RECSYS_ADMIN_KEY={secrets.token_urlsafe(18)}",
            f"RECSYS_MANAGER_KEYS=m001:{secrets.token_urlsafe(18)}",
        ]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            os.environ.setdefault(name, value)
    return path
