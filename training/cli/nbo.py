"""``recsys nbo export``: next-best offers of one manager's portfolio or of every client, to a file.

Clients, the catalog and owned offers come from the offline store (snapshot plus flushed
events); the model from ``--model-dir`` or the MLflow registry alias. Ranking goes through
the one ranking policy (``recommender.nbo``), as the API ranks; the file is written beside its
target and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from recommender.paths import DEFAULT_MODEL_NAME
from recommender.paths import data_dir as resolve_data_dir
from recommender.paths import tracking_uri as tracking_uri_default

if TYPE_CHECKING:
    import pandas as pd

    from feature_store.offline import OfflineStore
    from recommender.nbo_table import ExportFormat
    from recommender.servable import ServableModel

nbo_app = typer.Typer(help="Next-best offers for account managers.", no_args_is_help=True)
console = Console(stderr=True)
#: ``recommender.nbo_table.FORMATS`` (that module loads pandas; a test checks they agree).
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")


def atomic_write(frame: pd.DataFrame, fmt: ExportFormat, out: Path) -> None:
    """Write the export so that ``out`` is either the old file or the whole new one."""
    from recommender.atomic import atomic_output
    from recommender.nbo_table import write_table

    with atomic_output(out) as stream:
        write_table(frame, fmt, stream)


def load_portfolio(offline: OfflineStore, manager: str | None) -> tuple[pd.DataFrame, ...]:
    """(clients, items, owned pairs) from the offline store, limited to ``manager``'s clients."""
    import pandas as pd

    from recommender.feedback import owned_pairs

    clients = offline.read_table("clients")
    items = offline.read_table("items")
    history = [offline.read_table("interactions"), offline.read_events()]
    events = pd.concat([h for h in history if len(h)], ignore_index=True)
    owned = owned_pairs(events)
    if manager is not None:
        clients = clients[clients["manager_id"].astype(str) == manager]
        if clients.empty:
            raise typer.BadParameter(f"manager {manager!r} has no clients", param_hint="--manager")
        owned = owned[owned["client_id"].isin(set(clients["client_id"]))]
    return clients, items, owned


def load_model(
    model_dir: Path | None, name: str, alias: str, tracking_uri: str | None, root: Path
) -> ServableModel:
    if model_dir is not None:
        from recommender.servable import ServableModel

        return ServableModel.load(model_dir)
    from training.registry import load_servable

    return load_servable(name, alias, tracking_uri_default(tracking_uri, root))[0]


@nbo_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    manager: Annotated[str | None, typer.Option(help="Only this manager's clients.")] = None,
    all_clients: Annotated[bool, typer.Option("--all", help="Every client.")] = False,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx or parquet (default: from --out).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=50, help="Offers per client.")] = 5,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="A saved ServableModel folder.")] = None,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = DEFAULT_MODEL_NAME,
    alias: Annotated[str, typer.Option(help="Registry alias to export with.")] = "champion",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    reasons: Annotated[bool, typer.Option(help="Attach reasons to each offer.")] = True,
    lang: Annotated[str, typer.Option("--lang", help="Language of the reasons: ru or en.")] = "ru",
) -> None:
    """Rank every client of ``--manager`` (or ``--all``) and write the table to ``--out``."""
    if (manager is None) == (not all_clients):
        raise typer.BadParameter("give exactly one of --manager M or --all")
    if lang not in ("ru", "en"):
        raise typer.BadParameter(f"{lang!r}: ru or en", param_hint="--lang")
    chosen = (fmt or out.suffix.lstrip(".")).lower()
    if chosen not in EXPORT_FORMATS:
        raise typer.BadParameter("csv, xlsx or parquet", param_hint="--format")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from feature_store.offline import OfflineStore
    from recommender.nbo import compute_nbo, portfolio_block
    from recommender.nbo_table import nbo_frame
    from recommender.phrases import Speaker
    from recommender.ranking import RankingModel, RankingPolicy

    root = resolve_data_dir(data_dir)
    clients, items, owned = load_portfolio(OfflineStore(root), manager)
    model = load_model(model_dir, model_name, alias, tracking_uri, root)
    ranking = RankingModel(model)
    policy = RankingPolicy.from_settings()
    names = dict(zip(items["item_id"].astype(str), items["name"].astype(str), strict=True))
    portfolio = portfolio_block(clients, owned, ranking)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("ranking clients", total=len(portfolio))
        result = compute_nbo(
            ranking,
            portfolio,
            policy,
            policy.rules(k),
            names=names,
            explain=reasons,
            speaker=Speaker(lang, "manager"),  # type: ignore[arg-type]
            progress=lambda n: progress.advance(task, n),
        )
    frame = nbo_frame(result, model, names)
    atomic_write(frame, chosen, out)  # type: ignore[arg-type]
    total = float(frame["expected_value"].sum())
    console.print(f"wrote {len(frame):,} clients to {out} (expected value {total:,.0f})")
