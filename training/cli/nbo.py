"""``recsys nbo export``: next-best offers of one manager's portfolio or of every client, to a file.

Clients, the catalog and owned offers come from the offline store (snapshot plus flushed
events); the model from ``--model-dir`` or the MLflow registry alias. Ranking goes through
the one ranking policy (``recommender.nbo``), as the API ranks. The export streams: the store
is split into chunks of clients with their events (``feature_store.portfolio_chunks``), each
chunk is ranked and sorted to disk, and a merge writes the file by opportunity
(``recommender.nbo_stream``), so memory does not grow with the number of clients. The work
files sit in a hidden folder beside ``--out`` (removed at the end); the file is written beside
its target and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from recommender.paths import DEFAULT_MODEL_NAME
from recommender.paths import data_dir as resolve_data_dir
from recommender.paths import tracking_uri as tracking_uri_default

if TYPE_CHECKING:
    from recommender.servable import ServableModel

nbo_app = typer.Typer(help="Next-best offers for account managers.", no_args_is_help=True)
console = Console(stderr=True)
#: ``recommender.nbo_table.FORMATS`` (that module loads pandas; a test checks they agree).
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")


def load_model(
    model_dir: Path | None, name: str, alias: str, tracking_uri: str | None, root: Path
) -> ServableModel:
    if model_dir is not None:
        from recommender.servable import ServableModel

        return ServableModel.load(model_dir)
    from training.registry import load_servable

    return load_servable(name, alias, tracking_uri_default(tracking_uri, root))[0]


def _churn_scores(  # type: ignore[no-untyped-def]
    wanted: bool, churn_dir: Path | None, alias: str, tracking_uri: str | None, root: Path
):
    """A function adding the churn columns to a clients chunk, or ``None`` (no churn model:
    said on stderr, unless a folder was named, which must then load)."""
    if not wanted:
        return None
    from recommender.churn.retention import with_risk_columns
    from recommender.ranking.policy import PolicySettings
    from training.churn import CHURN_MODEL_NAME
    from training.churn_scores import load_scores

    try:
        scores, label = load_scores(
            churn_dir, CHURN_MODEL_NAME, alias, tracking_uri_default(tracking_uri, root)
        )
    except Exception as exc:  # a missing model only drops the risk columns
        if churn_dir is not None:
            raise typer.BadParameter(str(exc), param_hint="--churn-dir") from None
        console.print(
            f"[yellow]note:[/] no churn risk in the export ({exc}); --no-churn hides this"
        )
        return None
    console.print(f"churn risk from {label} (scores as of {scores.as_of})")
    bands = PolicySettings().risk_bands()
    return lambda clients: with_risk_columns(clients, scores, bands)


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
    churn: Annotated[
        bool,
        typer.Option(
            "--churn/--no-churn",
            help="Churn risk columns and retention offers, from the churn model (when found).",
        ),
    ] = True,
    churn_dir: Annotated[
        Path | None, typer.Option(help="A churn-risk bundle folder (default: the registry).")
    ] = None,
    churn_alias: Annotated[str, typer.Option(help="Alias of the churn-risk model.")] = "champion",
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
    from feature_store.portfolio_chunks import NoClientsError, split_portfolio
    from recommender.atomic import atomic_output
    from recommender.nbo_stream import export_chunks
    from recommender.nbo_table import XLSX_MAX_ROWS
    from recommender.phrases import Speaker
    from recommender.ranking import RankingModel, RankingPolicy

    root = resolve_data_dir(data_dir)
    offline = OfflineStore(root)
    items = offline.read_table("items")
    model = load_model(model_dir, model_name, alias, tracking_uri, root)
    ranking = RankingModel(model)
    policy = RankingPolicy.from_settings()
    # as the server: the registry's churn model with the registry's recommender, else a folder
    wanted = churn and (churn_dir is not None or model_dir is None)
    risk = _churn_scores(wanted, churn_dir, churn_alias, tracking_uri, root)  # None: no risk
    names = dict(zip(items["item_id"].astype(str), items["name"].astype(str), strict=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.work-", dir=out.parent) as work:
        try:
            chunks = split_portfolio(offline, Path(work), manager=manager)
        except NoClientsError as error:
            raise typer.BadParameter(str(error), param_hint="--manager") from None
        if chosen == "xlsx" and chunks.n_clients > XLSX_MAX_ROWS:
            raise typer.BadParameter(
                f"{chunks.n_clients:,} clients do not fit in an XLSX sheet "
                f"({XLSX_MAX_ROWS:,} rows); export csv or parquet",
                param_hint="--format",
            )
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
            ranking_task = progress.add_task("ranking clients", total=chunks.n_clients)
            writing_task = progress.add_task("writing by opportunity", total=chunks.n_clients)
            with atomic_output(out) as stream:
                summary = export_chunks(
                    chunks if risk is None else ((risk(c), o) for c, o in chunks),
                    len(chunks),
                    ranking,
                    policy,
                    policy.rules(k),
                    chosen,  # type: ignore[arg-type]
                    stream,
                    Path(work) / "runs",
                    names=names,
                    explain=reasons,
                    speaker=Speaker(lang, "manager"),  # type: ignore[arg-type]
                    ranked=lambda n: progress.advance(ranking_task, n),
                    written=lambda n: progress.advance(writing_task, n),
                )
    console.print(
        f"wrote {summary.clients:,} clients to {out} (expected value {summary.expected_value:,.0f})"
    )
