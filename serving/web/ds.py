"""The data-scientist page (admin key): served model versions per alias, their offline metrics,
the churn-risk model's backtest and calibration (``serving.web.ds_churn``), and the running
experiments with their current report and uplift chart (a server-side PNG).

Offline metrics come from the MLflow run that produced each registered version; a model loaded
from a directory, or a run without metrics, shows "not available". Experiment reports are built
from the offline store's event log on each view (``recsys events flush`` moves events there).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, Response

from feature_store.offline import OfflineStore
from recommender.experiments.registry import ExperimentRegistry
from recommender.experiments.render import plot_uplift
from recommender.experiments.report import build_report
from recommender.experiments.results import ExperimentReport
from serving.deps import HolderDep, SettingsDep
from serving.model_holder import ModelHolder
from serving.model_source import RegistrySource
from serving.security import KeyRing
from serving.settings import ServingSettings
from serving.web.auth import PageStaffDep
from serving.web.ds_churn import COLUMNS, SCORES, churn_panel
from serving.web.views import templates

log = logging.getLogger("serving.web")
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class AliasRow:
    alias: str
    version: str
    served: str
    loaded_at: str
    metrics: dict[str, float] | None


@dataclass(frozen=True)
class ExperimentView:
    name: str
    description: str
    variants: str
    report: ExperimentReport | None
    problem: str | None


def _registry_aliases(source: RegistrySource) -> tuple[dict[str, str], dict[str, dict]]:
    """Every alias of the registered model -> (version, overall metrics of its run).

    Per-industry metrics (logged as ``industry/<name>/<metric>``) stay in MLflow; the page
    compares the overall ones.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=source.tracking_uri, registry_uri=source.tracking_uri)
    versions: dict[str, str] = {}
    metrics: dict[str, dict] = {}
    try:
        aliases = client.get_registered_model(source.model_name).aliases
    except Exception as exc:  # the page still shows the rest
        log.warning("registry of %s not readable: %s", source.model_name, exc)
        return versions, metrics
    for alias, version in sorted(aliases.items()):
        versions[alias] = str(version)
        try:
            run_id = client.get_model_version(source.model_name, str(version)).run_id
            logged = client.get_run(run_id).data.metrics if run_id else {}
        except Exception as exc:
            log.warning("metrics of alias %s not available: %s", alias, exc)
            logged = {}
        metrics[alias] = {k: float(v) for k, v in sorted(logged.items()) if "/" not in k}
    return versions, metrics


def alias_rows(holder: ModelHolder) -> list[AliasRow]:
    """Aliases known to the registry (or loaded here), with what this worker serves."""
    loaded = {m.alias: m for m in holder.models()}
    versions: dict[str, str] = {}
    metrics: dict[str, dict] = {}
    if isinstance(holder.source, RegistrySource):
        versions, metrics = _registry_aliases(holder.source)
    rows = []
    for alias in dict.fromkeys([*holder.aliases, *versions]):
        model = loaded.get(alias)
        rows.append(
            AliasRow(
                alias=alias,
                version=versions.get(alias, "-"),
                served=model.label if model else "not loaded by this worker",
                loaded_at=model.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if model else "",
                metrics=metrics.get(alias) or None,
            )
        )
    return rows


def experiment_views(settings: ServingSettings) -> list[ExperimentView]:
    running = ExperimentRegistry.in_data_dir(settings.data_dir).active()
    if not running:
        return []
    try:
        events = OfflineStore(settings.data_dir).read_events()
    except Exception as exc:
        log.warning("experiment events not readable: %s", exc)
        events = None
    views = []
    for experiment in running:
        report, problem = None, None
        if events is None or events.empty:
            problem = "no events in the offline store yet"
        else:
            try:
                report = build_report(events, experiment)
            except (ValueError, KeyError) as exc:
                problem = str(exc)
        variants = ", ".join(f"{v.name} ({v.target})" for v in experiment.variants)
        views.append(
            ExperimentView(experiment.name, experiment.description, variants, report, problem)
        )
    return views


def _admin(request: Request, principal: PageStaffDep) -> None:
    keys: KeyRing = request.app.state.keys
    keys.require(principal, "admin")


@router.get("/ds", response_class=HTMLResponse)
def ds_page(
    request: Request, principal: PageStaffDep, holder: HolderDep, settings: SettingsDep
) -> Response:
    """Models per alias, champion vs challenger metrics, running experiments."""
    _admin(request, principal)
    rows = alias_rows(holder)
    names = sorted({name for row in rows for name in (row.metrics or {})})
    context = {
        "principal": principal,
        "aliases": rows,
        "churn": churn_panel(request.app.state.churn),
        "churn_scores": SCORES,
        "churn_columns": COLUMNS,
        "metric_names": names,
        "experiments": experiment_views(settings),
        "source": holder.source.description,
    }
    return templates.TemplateResponse(request, "ds.html", context)


@router.get("/ds/experiments/{name}/uplift.png")
def uplift_png(
    request: Request,
    principal: PageStaffDep,
    settings: SettingsDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    """The uplift chart of one running experiment, rendered now."""
    _admin(request, principal)
    views = [v for v in experiment_views(settings) if v.name == name]
    if not views or views[0].report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no report for experiment {name!r}")
    with tempfile.TemporaryDirectory() as tmp:
        png = plot_uplift(views[0].report, FsPath(tmp) / "uplift.png").read_bytes()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
