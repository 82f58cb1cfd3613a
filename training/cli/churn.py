"""``recsys churn train | backtest``: the churn-risk model on the command line.

``backtest`` prints the time backtest (model, base rate, best single-feature rule, "one active
service", the shuffled-window control, reliability, by industry) and whether the targets are
met; ``train`` runs it too, fits the final model, scores every client and registers it in
MLflow (``churn-risk`` by default). Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from training.cli.common import table_console
from training.cli.train import DataDir, TrackingUri, _clear_errors

if TYPE_CHECKING:
    from recommender.churn import BacktestReport

churn_app = typer.Typer(
    help="Churn risk: backtest, train and register the model.", no_args_is_help=True
)
console = Console()

Horizon = Annotated[int, typer.Option(min=1, help="Days after the cut-off a churn counts in.")]
Silence = Annotated[
    bool,
    typer.Option(
        "--silence/--no-silence", help="A client with no event in the horizon churned too."
    ),
]
Cutoffs = Annotated[int, typer.Option(min=1, help="Training cut-offs, a month apart.")]
Seed = Annotated[int, typer.Option(help="Seed of the model and the control.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")]


def _settings(horizon: int, silence: bool, cutoffs: int, seed: int, name: str | None = None):  # type: ignore[no-untyped-def]
    from training.churn import CHURN_MODEL_NAME, ChurnTrainSettings

    return ChurnTrainSettings(
        horizon_days=horizon,
        silence=silence,
        train_cutoffs=cutoffs,
        seed=seed,
        registered_name=name or CHURN_MODEL_NAME,
    )


@churn_app.command("backtest")
def backtest_command(
    data_dir: DataDir = None,
    horizon: Horizon = 90,
    silence: Silence = False,
    cutoffs: Cutoffs = 6,
    seed: Seed = 42,
    as_json: AsJson = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Reliability plot (PNG) path (default: <data dir>/reports/churn)."),
    ] = None,
) -> None:
    """Time backtest of the churn model on the offline store (nothing is logged)."""
    from recommender import paths
    from recommender.churn.plots import save_reliability_chart
    from training.churn import backtest

    with _clear_errors():
        report = backtest(_settings(horizon, silence, cutoffs, seed), data_dir)
    _print(report, as_json)
    target = plot or paths.reports_dir(paths.data_dir(data_dir)) / "churn" / "reliability.png"
    written = save_reliability_chart(report, target)
    if not as_json:
        console.print(f"reliability plot: {written}")


@churn_app.command("train")
def train_command(
    data_dir: DataDir = None,
    tracking_uri: TrackingUri = None,
    horizon: Horizon = 90,
    silence: Silence = False,
    cutoffs: Cutoffs = 6,
    seed: Seed = 42,
    name: Annotated[
        str | None, typer.Option(help="Registered model name (default churn-risk).")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Alias to point at the new version.")] = None,
    as_json: AsJson = False,
) -> None:
    """Backtest, fit the final model, score every client, log and register it in MLflow."""
    from training.churn import train_churn

    with _clear_errors():
        result = train_churn(
            _settings(horizon, silence, cutoffs, seed, name), data_dir, tracking_uri, alias=alias
        )
    _print(result.report, as_json)
    if not as_json:
        console.print(
            f"registered version {result.version} (run {result.run_id}); "
            f"{result.at_risk_clients:,} of {result.scored_clients:,} clients hold a tariff and "
            "were scored"
        )


def _print(report: BacktestReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict() | {"targets": report.targets_met()}, indent=2))
        return
    table = Table(
        title=f"churn backtest: test cut-off {report.test_cutoff}, "
        f"{report.train_rows:,} training rows"
    )
    columns = ("roc_auc", "pr_auc", "top_decile_lift", "top_decile_recall", "brier")
    table.add_column("score")
    for column in columns:
        table.add_column(column, justify="right")
    rows = (
        ("model", report.model),
        ("base rate", report.base_rate),
        (f"best rule: {report.best_rule['rule']}", report.best_rule),
        ("one active service", report.one_service),
        ("shuffled-window control", report.control),
    )
    for label, values in rows:
        table.add_row(label, *(_cell(values.get(c)) for c in columns))
    out = table_console()
    out.print(table)
    out.print(
        f"churn rate {report.model['churn_rate']:.3f}; Brier of the base rate "
        f"{report.model['brier_base_rate']:.4f}; targets: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in report.targets_met().items())
    )
    reliability = Table(title="reliability (deciles of predicted risk)")
    for column in ("predicted", "observed", "rows"):
        reliability.add_column(column, justify="right")
    for row in report.reliability:
        reliability.add_row(
            f"{row['predicted']:.3f}", f"{row['observed']:.3f}", f"{row['rows']:.0f}"
        )
    out.print(reliability)
    by_industry = Table(title="by industry")
    for column in ("industry", "rows", "churn_rate", "roc_auc", "rule_roc_auc", "mean_predicted"):
        by_industry.add_column(column, justify="right")
    for industry, values in report.by_industry.items():
        by_industry.add_row(
            industry,
            f"{values['rows']:.0f}",
            *(
                _cell(values[c])
                for c in ("churn_rate", "roc_auc", "rule_roc_auc", "mean_predicted")
            ),
        )
    out.print(by_industry)


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"
