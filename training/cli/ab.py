"""``recsys ab report | power | list | end``: A/B test analysis and planning on the command line.

Experiments come from ``--file`` or the data directory's experiments file; events from
``--events`` (Parquet or CSV) or the offline store's event log. Expected failures (bad file,
unknown experiment, no impressions, unreachable tracking server) print one red line and exit 2.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from training.cli.common import FormatOption, OutputFormat, print_rows, table_console

if TYPE_CHECKING:
    import pandas as pd

    from recommender.experiments.config import Experiment
    from recommender.experiments.registry import ExperimentRegistry
    from recommender.experiments.results import ExperimentReport

ab_app = typer.Typer(
    help="A/B tests: per-variant reports with uplift statistics, power planning, experiments.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)  # notes, warnings and errors: off stdout (csv/json stay clean)
MLFLOW_EXPERIMENT = "ab-tests"

DataDir = Annotated[Path | None, typer.Option(help="Data directory (default $RECSYS_DATA_DIR).")]
ExperimentsFile = Annotated[
    Path | None,
    typer.Option("--file", help="Experiments YAML/JSON (default: <data dir>/experiments.*)."),
]


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one red line and exit code 2."""
    from feature_store.errors import FeatureStoreError
    from training.tracking import TrackingError

    try:
        yield
    except (ValueError, KeyError, OSError, TrackingError, FeatureStoreError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        err_console.print(f"[red]error:[/] {message}")
        raise typer.Exit(2) from exc


def _registry(file: Path | None, data_dir: Path | None) -> ExperimentRegistry:
    from recommender.experiments.registry import ExperimentRegistry

    return (
        ExperimentRegistry(file) if file is not None else ExperimentRegistry.in_data_dir(data_dir)
    )


def read_events(events: Path | None, data_dir: Path | None) -> pd.DataFrame:
    """Events from a Parquet/CSV file, else from the offline store of ``data_dir``."""
    import pandas as pd

    if events is None:
        from feature_store.offline import OfflineStore

        return OfflineStore(data_dir).read_events()
    suffix = events.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(events)
    if suffix == ".csv":
        return pd.read_csv(events, dtype={"client_id": str, "experiment": str, "variant": str})
    raise ValueError(f"{events}: expected a .parquet or .csv file")


def read_history(
    events: Path | None, data_dir: Path | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """What retention replays holdings from: the offline store's whole log (snapshot and
    flushed events) and its catalog; with ``--events`` that file alone (history ``None``) and
    the store's catalog when there is one."""
    import pandas as pd

    from feature_store.errors import FeatureStoreError
    from feature_store.offline import OfflineStore

    store = OfflineStore(data_dir)
    try:
        items = store.read_table("items") if "items" in store.tables() else None
    except (FeatureStoreError, OSError):
        items = None
    if events is not None:
        return None, items
    try:
        snapshot = store.read_table("interactions")
    except (FeatureStoreError, OSError):
        return None, items
    flushed = store.read_events()
    if "event_id" in snapshot and "event_id" in flushed:
        flushed = flushed[~flushed["event_id"].isin(set(snapshot["event_id"].dropna()))]
    return pd.concat([snapshot, flushed], ignore_index=True), items


def report_command(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: Annotated[
        Path | None, typer.Option(help="Events Parquet/CSV (default: the offline store).")
    ] = None,
    data_dir: DataDir = None,
    file: ExperimentsFile = None,
    control: Annotated[
        str | None, typer.Option(help="Control variant when the experiment is not in the file.")
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.001, max=0.5, help="Significance level.")] = 0.05,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report JSON.")] = None,
    png: Annotated[Path | None, typer.Option(help="Write the uplift chart PNG.")] = None,
    log_mlflow: Annotated[bool, typer.Option("--mlflow", help="Log the report to MLflow.")] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default $MLFLOW_TRACKING_URI or SQLite)."),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Per-variant exposures, CTR, conversion, revenue, retention (churn within the window);
    uplifts with CIs, z/Welch/mSPRT, SRM.

    --format json prints the report JSON, --format csv one row per variant with its uplifts;
    notes and warnings then go to stderr.
    """
    from recommender.experiments.render import plot_uplift, uplift_table, variants_table
    from recommender.experiments.report import build_report

    info = console if fmt is OutputFormat.TABLE else err_console
    with _clear_errors():
        registry = _registry(file, data_dir)
        definition: Experiment | str = name
        try:
            definition = registry.get(name)
        except KeyError:
            info.print(
                f"[yellow]note:[/] {name!r} is not in {registry.path}: variants taken from the "
                "events, equal weights assumed for the sample-ratio check"
            )
        history, items = read_history(events, data_dir)
        report = build_report(
            read_events(events, data_dir),
            definition,
            control=control,
            alpha=alpha,
            history=history,
            items=items,
        )
        if fmt is OutputFormat.JSON:
            typer.echo(report.to_json())
        elif fmt is OutputFormat.CSV:
            print_rows(report_rows(report), report_columns(report), fmt)
        else:
            wide = table_console()
            wide.print(variants_table(report))
            wide.print(uplift_table(report))
        for warning in report.warnings:
            info.print(f"[red]warning:[/] {warning}")
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(report.to_json() + "\n", encoding="utf-8")
            info.print(f"report JSON: {json_out}")
        if png is not None:
            info.print(f"uplift chart: {plot_uplift(report, png)}")
        if log_mlflow:
            run_id = log_report(report, data_dir, tracking_uri, png)
            info.print(f"logged to MLflow experiment {MLFLOW_EXPERIMENT!r}, run {run_id}")


#: Per-variant fields of ``recsys ab report --format csv`` (``VariantStats``).
VARIANT_FIELDS: tuple[str, ...] = (
    "exposures", "clients", "clicks", "click_through", "conversions", "conversion", "revenue",
    "revenue_per_client", "at_risk_clients", "churned", "churn_rate", "retention",
)  # fmt: skip
#: Per-uplift fields, as ``<metric>_<field>`` columns (empty on the control's row).
UPLIFT_FIELDS: tuple[str, ...] = (
    "absolute", "absolute_low", "absolute_high", "relative", "relative_low", "relative_high",
    "test", "p_value", "sequential_p_value", "significant", "sequential_significant",
)  # fmt: skip


def report_columns(report: ExperimentReport) -> list[str]:
    """Columns of the CSV report: experiment, variant, control flag, stats, then uplifts."""
    metrics = list(dict.fromkeys(up.metric for up in report.uplifts))
    uplifts = [f"{metric}_{field}" for metric in metrics for field in UPLIFT_FIELDS]
    return ["experiment", "variant", "is_control", *VARIANT_FIELDS, *uplifts, "srm_p_value"]


def report_rows(report: ExperimentReport) -> list[dict[str, Any]]:
    """One row per variant: its figures and, for a treatment, its uplifts over the control."""
    rows: list[dict[str, Any]] = []
    for stats in report.variants:
        row: dict[str, Any] = {
            "experiment": report.experiment,
            "variant": stats.variant,
            "is_control": stats.variant == report.control,
            **{key: getattr(stats, key) for key in VARIANT_FIELDS},
            "srm_p_value": report.srm.p_value,
        }
        for up in report.uplifts:
            if up.variant == stats.variant:
                row.update({f"{up.metric}_{key}": getattr(up, key) for key in UPLIFT_FIELDS})
        rows.append(row)
    return rows


def report_metrics(report: ExperimentReport) -> dict[str, float]:
    """Flat MLflow metrics: per-variant figures, per-treatment uplifts and p-values, SRM."""
    metrics: dict[str, float] = {"srm_p_value": report.srm.p_value, "looks": report.looks}
    for row in report.variants:
        for key in ("clients", "exposures", "click_through", "conversion", "revenue_per_client",
                    "churn_rate", "retention"):  # fmt: skip
            metrics[f"{row.variant}/{key}"] = float(getattr(row, key))
    for up in report.uplifts:
        for key in ("absolute", "absolute_low", "absolute_high", "relative", "relative_low",
                    "relative_high", "p_value", "sequential_p_value"):  # fmt: skip
            metrics[f"{up.variant}/{up.metric}/{key}"] = getattr(up, key)
    return metrics


def log_report(
    report: ExperimentReport, data_dir: Path | None, tracking_uri: str | None, png: Path | None
) -> str:
    """One MLflow run in experiment ``ab-tests``: metrics, tags, the JSON and the chart."""
    import mlflow

    from recommender.experiments.render import plot_uplift
    from training.tracking import connect, finite_metrics

    _, experiment_id = connect(data_dir, tracking_uri, experiment=MLFLOW_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"ab-{report.experiment}") as run:
        mlflow.set_tags(
            {
                "ab.experiment": report.experiment,
                "ab.control": report.control,
                "ab.srm_flagged": str(report.srm.flagged).lower(),
            }
        )
        mlflow.log_params(
            {"alpha": report.alpha, "variants": ",".join(v.variant for v in report.variants)}
        )
        mlflow.log_metrics(finite_metrics(report_metrics(report)))
        mlflow.log_text(report.to_json(), "ab_report.json")
        with tempfile.TemporaryDirectory() as tmp:
            chart = png if png is not None else plot_uplift(report, Path(tmp) / "uplift.png")
            mlflow.log_artifact(str(chart))
        return str(run.info.run_id)


def power_command(
    baseline: Annotated[float, typer.Option(help="Control conversion rate, e.g. 0.05.")],
    mde: Annotated[
        float | None,
        typer.Option(help="Effect to detect, relative (0.1 = +10 %) unless --absolute."),
    ] = None,
    clients: Annotated[
        int | None, typer.Option(min=2, help="Clients per variant: print the MDE they detect.")
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5)] = 0.05,
    power: Annotated[float, typer.Option(min=0.05, max=0.9999)] = 0.8,
    absolute: Annotated[bool, typer.Option(help="--mde is in rate points, not relative.")] = False,
    variants: Annotated[int, typer.Option(min=2, help="Variants, control included.")] = 2,
) -> None:
    """Clients per variant for an MDE, or the MDE of a given number of clients per variant."""
    from recommender.experiments.power import minimum_detectable_effect, sample_size_proportions

    if (mde is None) == (clients is None):
        raise typer.BadParameter("give exactly one of --mde and --clients")
    with _clear_errors():
        if mde is not None:
            plan = sample_size_proportions(
                baseline, mde, alpha=alpha, power=power, relative=not absolute
            )
        else:
            assert clients is not None
            plan = minimum_detectable_effect(baseline, clients, alpha=alpha, power=power)
    console.print(
        f"baseline {plan.baseline:.4%} -> {plan.treatment:.4%} (MDE {plan.relative_mde:+.2%} "
        f"relative, {plan.absolute_mde:+.4%} absolute), alpha {alpha}, power {power}:\n"
        f"[bold]{plan.n_per_variant:,}[/] clients per variant, "
        f"{plan.n_per_variant * variants:,} for {variants} variants"
    )


def list_command(
    data_dir: DataDir = None, file: ExperimentsFile = None, fmt: FormatOption = OutputFormat.TABLE
) -> None:
    """The experiments of the file, with their status now."""
    with _clear_errors():
        registry = _registry(file, data_dir)
        experiments = registry.experiments()
    now = datetime.now(UTC)
    if fmt is not OutputFormat.TABLE:
        rows = [
            {
                "name": e.name,
                "status": e.status(now),
                "start": e.start.isoformat(),
                "end": None if e.end is None else e.end.isoformat(),
                "variants": [
                    f"{v.name}:{v.target}:{w:g}" for v, w in zip(e.variants, e.weights, strict=True)
                ],
                "holdout": e.holdout,
                "segments": [s.value for s in e.targeting.segments or ()],
                "industries": list(e.targeting.industries or ()),
                "risk_bands": list(e.targeting.risk_bands or ()),
                "description": e.description,
            }
            for e in experiments
        ]
        columns = ("name", "status", "start", "end", "variants", "holdout", "segments",
                   "industries", "risk_bands", "description")  # fmt: skip
        print_rows(rows, columns, fmt)
        return
    if not experiments:
        console.print(f"no experiments in {registry.path}")
        return
    from rich.table import Table

    table = Table(title=f"experiments in {registry.path}")
    for header in ("name", "status", "start", "end", "variants (target, share)", "holdout",
                   "targeting"):  # fmt: skip
        table.add_column(header)
    for e in experiments:
        arms = ", ".join(
            f"{v.name} ({v.target}, {w:.0%})" for v, w in zip(e.variants, e.weights, strict=True)
        )
        who = [*(s.value for s in e.targeting.segments or ()), *(e.targeting.industries or ())]
        who += [f"{band} churn risk" for band in e.targeting.risk_bands or ()]
        table.add_row(
            e.name,
            e.status(now),
            e.start.isoformat(timespec="minutes"),
            "-" if e.end is None else e.end.isoformat(timespec="minutes"),
            arms,
            f"{e.holdout:.0%}",
            ", ".join(who) or "all",
        )
    table_console().print(table)


def end_command(
    name: Annotated[str, typer.Argument(help="Experiment to stop now.")],
    data_dir: DataDir = None,
    file: ExperimentsFile = None,
) -> None:
    """Stop an experiment now: its clients go back to the default model."""
    with _clear_errors():
        ended = _registry(file, data_dir).end(name)
    console.print(f"experiment {name!r} ended at {ended.end}")


ab_app.command("report")(report_command)
ab_app.command("power")(power_command)
ab_app.command("list")(list_command)
ab_app.command("end")(end_command)
