"""The churn-risk model on the data-scientist page: its backtest figures and calibration.

For a churn model from the MLflow registry, the figures come from the run that produced the
served version (``training.churn`` logs the backtest as metrics ``model_roc_auc``,
``rule_roc_auc``, ... and the reliability table as ``evaluation/reliability.json``). A churn
model from a directory has no run: the page shows what the bundle says (its calibration's
held-out quality) and that the backtest is not available.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from serving.churn_risk import ChurnRegistrySource, ChurnRiskHolder

log = logging.getLogger("serving.web")

#: Rows of the backtest table: (metric prefix, label), as ``BacktestReport.metrics`` names them.
SCORES: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("base_rate", "base rate"),
    ("rule", "best single-feature rule: {rule}"),
    ("one_service", "one active service"),
    ("control", "shuffled-window control"),
)
COLUMNS: tuple[str, ...] = ("roc_auc", "pr_auc", "top_decile_lift", "top_decile_recall", "brier")


@dataclass(frozen=True)
class ChurnPanel:
    """What the page shows of the churn model (``label`` None: none is loaded)."""

    label: str | None
    source: str
    problem: str | None = None
    as_of: str = ""
    horizon_days: int = 0
    #: score prefix -> column -> value (empty: no run to read them from).
    backtest: dict[str, dict[str, float]] = field(default_factory=dict)
    best_rule: str = ""
    test_cutoff: str = ""
    reliability: list[dict[str, float]] = field(default_factory=list)
    #: The calibration's own held-out quality (from the bundle).
    calibration: dict[str, float] = field(default_factory=dict)


def churn_panel(holder: ChurnRiskHolder) -> ChurnPanel:
    source = holder.source
    loaded = holder.current
    if source is None or loaded is None:
        where = source.description if source is not None else "none configured"
        return ChurnPanel(None, where, holder.problem)
    panel = ChurnPanel(
        loaded.label,
        source.description,
        as_of=loaded.scores.as_of,
        horizon_days=loaded.horizon_days,
        calibration=dict(loaded.model.calibration.quality),
    )
    if isinstance(source, ChurnRegistrySource):
        return _with_run(panel, source, loaded.version)
    return panel


def _with_run(panel: ChurnPanel, source: ChurnRegistrySource, version: str) -> ChurnPanel:
    """The backtest figures and the reliability table of the version's MLflow run."""
    import mlflow.artifacts
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=source.tracking_uri, registry_uri=source.tracking_uri)
        run_id = client.get_model_version(source.name, version).run_id
        if not run_id:
            return panel  # a version registered without a run
        run = client.get_run(run_id)
        table = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/evaluation/reliability.json")
    except Exception as exc:  # the page still shows the rest
        log.warning("churn model run of version %s not readable: %s", version, exc)
        return panel
    metrics = run.data.metrics
    backtest = {
        prefix: {c: float(metrics[f"{prefix}_{c}"]) for c in COLUMNS if f"{prefix}_{c}" in metrics}
        for prefix, _ in SCORES
    }
    return ChurnPanel(
        panel.label,
        panel.source,
        as_of=panel.as_of,
        horizon_days=panel.horizon_days,
        backtest={k: v for k, v in backtest.items() if v},
        best_rule=run.data.tags.get("best_rule", ""),
        test_cutoff=run.data.tags.get("test_cutoff", ""),
        reliability=[dict(row) for row in table.get("rows", [])],
        calibration=panel.calibration,
    )
