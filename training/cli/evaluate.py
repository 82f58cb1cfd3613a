"""``recsys evaluate``: compare models offline on a split, print the table, write the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from recommender import paths
from training.cli.common import SPLIT_NAMES, table_console

if TYPE_CHECKING:
    from recommender.dataset import Dataset
    from recommender.evaluation.evaluate import EvaluationResult

#: Table columns and their short headers (the report JSON uses the full names).
TABLE_METRICS: dict[str, str] = {
    "precision": "P",
    "recall": "R",
    "ndcg": "NDCG",
    "map": "MAP",
    "hit_rate": "HR",
    "mrr": "MRR",
    "coverage": "cover",
    "personalization": "person",
    "kind_diversity": "kinds",
    "novelty": "novelty",
    "fit_seconds": "fit s",
}


def evaluate_command(
    models: Annotated[
        str, typer.Option(help="Comma-separated model names, e.g. ease,als,popularity.")
    ] = "ease,als,popularity",
    split: Annotated[
        str, typer.Option(help=f"Split: {', '.join(SPLIT_NAMES)} (auto: time, else snapshot).")
    ] = "auto",
    k: Annotated[int, typer.Option(min=1, help="Length of the recommendation lists.")] = 10,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory whose offline store is evaluated.")
    ] = None,
    movielens: Annotated[
        Path | None, typer.Option(help="Evaluate on the MovieLens-100k folder at this path.")
    ] = None,
    synthetic: Annotated[
        int | None, typer.Option(min=10, help="Evaluate on N generated clients.")
    ] = None,
    configs: Annotated[
        Path | None, typer.Option(help="Folder of <model>.json config files to use.")
    ] = None,
    group_by: Annotated[
        str, typer.Option(help="Client column the metrics are broken down by.")
    ] = "industry",
    seed: Annotated[int, typer.Option(help="Seed of the split and of the models.")] = 42,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: <data dir>/reports/evaluation).")
    ] = None,
) -> None:
    """Fit models on a train split, score their top-k on the test part, compare them."""
    if split not in SPLIT_NAMES:
        raise typer.BadParameter(f"choose one of {', '.join(SPLIT_NAMES)}", param_hint="--split")
    if sum(x is not None for x in (movielens, synthetic)) > 1:
        raise typer.BadParameter("give at most one of --movielens and --synthetic")
    names = [m.strip() for m in models.split(",") if m.strip()]
    from recommender.models.registry import MODELS

    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown model(s) {unknown}; known: {', '.join(MODELS)}", param_hint="--models"
        )
    from recommender.evaluation.evaluate import evaluate

    console = table_console(120)
    dataset = _load(data_dir, movielens, synthetic)
    console.print(
        f"{dataset.n_clients} clients, {dataset.n_items} items, {len(dataset.events)} events; "
        f"split [bold]{split}[/], k={k}"
    )
    result = evaluate(
        dataset,
        names,
        split=split,
        k=k,
        configs=load_configs(configs, names) if configs is not None else None,
        seed=seed,
        group_column=group_by,
    )
    if result.split_reason:
        console.print(f"split [bold]{result.split}[/]: {result.split_reason}")
    console.print(comparison_table(result))
    from recommender.evaluation.report import write_report  # matplotlib: only when writing

    target = out or paths.reports_dir(paths.data_dir(data_dir)) / "evaluation"
    written = write_report(result, target)
    console.print(f"report: {target} ({len(written)} files); best by NDCG: {result.best()}")


def load_configs(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``<folder>/<model>.json`` for each model that has one."""
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        path = folder / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


def comparison_table(result: EvaluationResult) -> Table:
    """A rich table: one row per model, the best value of each column in bold."""
    frame = result.table()
    table = Table(title=f"metrics@{result.k}, {result.split} split, {len(result.clients)} clients")
    table.add_column("model")
    for header in TABLE_METRICS.values():
        table.add_column(header, justify="right")
    best = frame.max(numeric_only=True)
    for name, row in frame.iterrows():
        cells = [str(name)]
        for metric in TABLE_METRICS:
            value = row[metric]
            text = "-" if value != value else f"{value:.3f}"  # NaN: not applicable
            cells.append(
                f"[bold]{text}[/]" if metric != "fit_seconds" and value == best[metric] else text
            )
        table.add_row(*cells)
    return table


def _load(data_dir: Path | None, movielens: Path | None, synthetic: int | None) -> Dataset:
    """MovieLens, generated data (seed 7), or by default the offline store of the data dir."""
    if movielens is not None:
        from recommender.evaluation.data import movielens_dataset

        return movielens_dataset(movielens)
    if synthetic is not None:
        from recommender.evaluation.data import synthetic_dataset

        return synthetic_dataset(synthetic)
    from feature_store.offline import OfflineStore

    return OfflineStore(data_dir).load_dataset()
