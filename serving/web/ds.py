"""The data-scientist page (admin key): served model versions per alias, their offline metrics,
and the running experiments with their current report and uplift chart (a server-side PNG).

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
from serving.web.views import templates

log = logging.getLogger("serving.web")
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class AliasRow:
    alias: str
    label: str
    loaded_at: str
    metrics: dict[str, float] | None


@dataclass(frozen=True)
class ExperimentView:
    name: str
    description: str
    variants: str
    report: ExperimentReport | None
    problem: str | None


def _run_metrics(source: RegistrySource, alias: str) -> dict[str, float] | None:
    """Metrics of the MLflow run behind ``alias``; None when there is none to read."""
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=source.tracking_uri, registry_uri=source.tracking_uri)
        version = client.get_model_version_by_alias(source.model_name, alias)
        if not version.run_id:
            return None
        metrics = dict(client.get_run(version.run_id).data.metrics)
    except Exception as exc:  # the page still shows the rest
        log.warning("metrics of alias %s not available: %s", alias, exc)
        return None
    return {k: float(v) for k, v in sorted(metrics.items())} or None


def alias_rows(holder: ModelHolder) -> list[AliasRow]:
    loaded = {m.alias: m for m in holder.models()}
    rows = []
    for alias in holder.aliases:
        model = loaded.get(alias)
        metrics = (
            _run_metrics(holder.source, alias)
            if isinstance(holder.source, RegistrySource)
            else None
        )
        rows.append(
            AliasRow(
                alias=alias,
                label=model.label if model else "not loaded",
                loaded_at=model.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if model else "",
                metrics=metrics,
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
