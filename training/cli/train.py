"""``recsys train | promote | models | tune | retrain``: the MLflow jobs on the command line.

Expected failures (unknown model or config key, empty store, unreachable server, missing
alias) print one red line and exit with code 2; anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from recommender import paths
from training.cli.common import (
    SPLIT_NAMES,
    FormatOption,
    OutputFormat,
    check_split,
    print_rows,
    table_console,
)

if TYPE_CHECKING:
    from training.registry import VersionInfo

DataDir = Annotated[Path | None, typer.Option(help="Data directory (default $RECSYS_DATA_DIR).")]
TrackingUri = Annotated[
    str | None, typer.Option(help="MLflow tracking URI (default $MLFLOW_TRACKING_URI or SQLite).")
]
Registered = Annotated[str, typer.Option(help="Registered model name.")]
DEFAULT_NAME = paths.DEFAULT_MODEL_NAME
console = Console()
err_console = Console(stderr=True)  # one red line for a failure, off stdout (csv/json stay clean)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one line and exit code 2 (and quiet MLflow bars)."""
    from pydantic import ValidationError

    from feature_store.errors import FeatureStoreError
    from recommender.servable import ArtifactError
    from training.tracking import TrackingError

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        yield
    except ValidationError as exc:
        keys = ", ".join(
            ".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors()
        )
        err_console.print(f"[red]error:[/] invalid model config: {keys}")
        raise typer.Exit(2) from exc
    except (ValueError, TrackingError, FeatureStoreError, ArtifactError) as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def _read_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--config") from exc
    if not isinstance(config, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object", param_hint="--config")
    return config


def train_command(
    model: Annotated[str, typer.Option(help="Model name, e.g. ease, als, popularity.")],
    config: Annotated[Path | None, typer.Option(help="JSON file of model params.")] = None,
    data_dir: DataDir = None,
    split: Annotated[
        str, typer.Option(help=f"Split: {', '.join(SPLIT_NAMES)} (auto: time, else snapshot).")
    ] = "auto",
    k: Annotated[int, typer.Option(min=1, help="Length of the evaluated lists.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 42,
    registered_name: Registered = DEFAULT_NAME,
    alias: Annotated[str | None, typer.Option(help="Alias to set on the new version.")] = None,
    keep_split_model: Annotated[
        bool, typer.Option(help="Register the model fitted on the train part, not on all data.")
    ] = False,
    tracking_uri: TrackingUri = None,
    max_eval_clients: Annotated[
        int,
        typer.Option(
            min=0,
            help="Most test clients scored (a seeded sample beyond; 0: all). The model is "
            "still fitted on every client.",
        ),
    ] = 200_000,
) -> None:
    """Fit, evaluate on a split, log one MLflow run and register a new model version."""
    from training.progress import command_startup
    from training.train import TrainSettings, train

    check_split(split)
    settings = TrainSettings(
        model=model,
        config=_read_config(config) or {},
        split=split,
        k=k,
        seed=seed,
        registered_name=registered_name,
        refit_on_all=not keep_split_model,
        max_eval_clients=max_eval_clients or None,
    )
    with _clear_errors():
        startup = command_startup()  # the interpreter and the imports, until now
        result = train(settings, data_dir, tracking_uri, alias=alias, startup_seconds=startup)
    console.print(f"split [bold]{result.split}[/]: {result.split_reason}")
    shown = {
        n: v
        for n, v in result.metrics.items()
        if "/" not in n and not n.startswith(("model_only_", "calibration_", "uniform_", "uplift"))
    }
    console.print(
        f"run [bold]{result.run_id}[/]: {registered_name} version [bold]{result.version}[/]"
    )
    console.print(", ".join(f"{n}={v:.4f}" for n, v in shown.items()))
    if result.guardrail is not None:
        style = "green" if result.guardrail.passed else "bold red"
        console.print(f"[{style}]guardrail: {result.guardrail.describe()}[/]")
    steps = ", ".join(f"{label} {s:.2f} s" for label, s in result.timings.items() if s > 0)
    err_console.print(f"[dim]time by step: {steps}[/]", highlight=False)


def promote_command(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Option(help="Version number to point the alias at.")],
    alias: Annotated[str, typer.Option(help="Alias: champion or challenger.")] = "champion",
    force: Annotated[
        bool, typer.Option(help="Make champion even a version that loses to the uniform offer.")
    ] = False,
    tracking_uri: TrackingUri = None,
    data_dir: DataDir = None,
) -> None:
    """Point an alias (champion / challenger) at a registered version."""
    from training import registry
    from training.tracking import check_reachable, resolve

    with _clear_errors():
        tracking = resolve(data_dir, tracking_uri)
        check_reachable(tracking)
        mv = registry.promote(tracking.client(), name, version, alias, force=force)
    console.print(f"{name}@{alias} -> version {mv.version}")


def models_command(
    name: Annotated[str | None, typer.Argument(help="Registered model (default: all).")] = None,
    tracking_uri: TrackingUri = None,
    data_dir: DataDir = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List registered versions and their aliases."""
    if _no_embedded_store(data_dir, tracking_uri):
        if name is not None:  # as the registry answers for a model it does not know
            err_console.print(f"[red]error:[/] no registered model named {name!r}")
            raise typer.Exit(2)
        rows: list[VersionInfo] = []
        where = "the data directory has no MLflow store yet"
    else:
        from training import registry
        from training.tracking import check_reachable, resolve

        with _clear_errors():
            tracking = resolve(data_dir, tracking_uri)
            check_reachable(tracking)
            rows = registry.list_versions(registry.registry_reader(tracking), name)
        where = tracking.tracking_uri
    if fmt is not OutputFormat.TABLE:
        print_rows([_version_row(v) for v in rows], MODEL_COLUMNS, fmt)
        return
    if not rows:
        table_console().print(f"no registered models ({where})")
        return
    from rich.table import Table

    table = Table(title=f"registered models ({where})")
    for column in ("name", "version", "aliases", "model", "vs uniform", "created (UTC)", "run"):
        table.add_column(column)
    for v in rows:
        created = v.created.strftime("%Y-%m-%d %H:%M")
        aliases = ", ".join(v.aliases)
        guard = f"{float(v.uplift):+.1%}" if v.uplift else "-"
        table.add_row(v.name, v.version, aliases, v.model, guard, created, v.run_id or "")
    table_console(160).print(table)


#: Fields of ``recsys models --format csv|json``, one row per registered version.
MODEL_COLUMNS: tuple[str, ...] = (
    "name", "version", "aliases", "model", "uplift_vs_uniform", "guard_metric", "created",
    "run_id", "description",
)  # fmt: skip


def _version_row(v: VersionInfo) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "aliases": list(v.aliases),
        "model": v.model,
        "uplift_vs_uniform": float(v.uplift) if v.uplift else None,
        "guard_metric": v.guard_metric or None,
        "created": v.created.isoformat(timespec="seconds"),
        "run_id": v.run_id,
        "description": v.description,
    }


def _no_embedded_store(data_dir: Path | None, tracking_uri: str | None) -> bool:
    """No tracking URI configured and no SQLite store in the data directory yet.

    Then nothing is registered: ``recsys models`` says so without importing MLflow or creating
    the store (``training.tracking.resolve`` picks ``<data dir>/mlflow/mlflow.db`` here).
    """
    if paths.configured_tracking_uri(tracking_uri):
        return False
    return not (paths.mlflow_dir(paths.data_dir(data_dir)) / "mlflow.db").exists()


def tune_command(
    model: Annotated[str, typer.Option(help="Model name to tune.")],
    trials: Annotated[int, typer.Option(min=1, help="Number of Optuna trials.")] = 20,
    metric: Annotated[str, typer.Option(help="Metric to maximize, e.g. ndcg@10.")] = "ndcg@10",
    out: Annotated[Path | None, typer.Option(help="Best config JSON (default configs/).")] = None,
    config: Annotated[Path | None, typer.Option(help="JSON of fixed params.")] = None,
    split: Annotated[str, typer.Option(help="Split rule (applied twice; auto chooses).")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the sampler and split.")] = 42,
    data_dir: DataDir = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Optuna search on a validation split of the train part; saves the best config."""
    from training.tune import tune

    check_split(split)
    target = out or Path("configs") / f"{model}.tuned.json"
    with _clear_errors():
        result = tune(
            model, trials, target, metric=metric, split=split, seed=seed,
            base_config=_read_config(config), data_dir=data_dir, tracking_uri=tracking_uri,
        )  # fmt: skip
    console.print(f"best {result.metric}={result.best_value:.4f} -> {result.out}")
    console.print_json(data=result.best_config)


def retrain_command(
    model: Annotated[str | None, typer.Option(help="Model (default: the champion's).")] = None,
    config: Annotated[Path | None, typer.Option(help="JSON file of model params.")] = None,
    metric: Annotated[str, typer.Option(help="Deciding metric.")] = "ndcg_at_10",
    margin: Annotated[float, typer.Option(min=0.0, help="Relative margin to beat.")] = 0.01,
    split: Annotated[str, typer.Option(help="Split rule (auto: time, else snapshot).")] = "auto",
    force: Annotated[
        bool, typer.Option(help="Promote even a challenger that loses to the uniform offer.")
    ] = False,
    registered_name: Registered = DEFAULT_NAME,
    data_dir: DataDir = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Train a challenger; promote it to champion only if it beats the champion by --margin."""
    from training.retrain import retrain

    check_split(split)
    with _clear_errors():
        d = retrain(
            model, metric=metric, margin=margin, config=_read_config(config), split=split,
            force=force, registered_name=registered_name, data_dir=data_dir,
            tracking_uri=tracking_uri,
        )  # fmt: skip
    champion = "none" if d.champion_score is None else f"{d.champion_score:.4f}"
    verdict = "[green]promoted[/]" if d.promoted else "[yellow]kept the champion[/]"
    console.print(
        f"challenger v{d.challenger_version} {d.metric}={d.challenger_score:.4f}, champion "
        f"v{d.champion_version or '-'} {champion}: {verdict} ({d.reason})"
    )


COMMANDS: dict[str, Callable[..., None]] = {
    "train": train_command,
    "promote": promote_command,
    "models": models_command,
    "tune": tune_command,
    "retrain": retrain_command,
}


def register(app: typer.Typer) -> None:
    """Add the commands to the ``recsys`` app."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
