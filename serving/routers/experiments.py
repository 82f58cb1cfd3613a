"""A/B experiments for data scientists (admin key): list, create, end, report.

Experiments are kept in the data directory's experiments file (``ExperimentRegistry``), which
every worker re-reads within ``RECSYS_EXPERIMENTS_CHECK_S`` of a change; the worker that took
the change sees it at once. Reports are built from the offline store's event log (``recsys
events flush`` moves the stream there), with the statistics of ``recsys ab report``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from feature_store.errors import OfflineStoreError
from feature_store.offline import OfflineStore
from recommender.experiments.config import BASELINE_PREFIX, Experiment, ExperimentConfigError
from recommender.experiments.report import build_report
from recommender.experiments.results import ExperimentReport
from serving.deps import AdminDep, HolderDep, ModelDep, RequestIdDep, SettingsDep
from serving.experiments import BASELINES, FALLBACK_VARIANT, LiveExperiments, model_targets
from serving.schemas import (
    Envelope,
    ErrorBody,
    ExperimentCreatedOut,
    ExperimentOut,
    ExperimentsOut,
)

log = logging.getLogger("serving.experiments")
router = APIRouter(prefix="/v1", tags=["experiments"])

Name = Annotated[str, Path(min_length=1, max_length=64, description="Experiment name")]
_AUTH: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}}
_UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


class ExperimentReportOut(Envelope):
    report: ExperimentReport


def _live(request: Request) -> LiveExperiments:
    live: LiveExperiments = request.app.state.experiments
    return live


def _unusable(exc: ExperimentConfigError) -> HTTPException:
    log.error("experiments file unusable: %s", exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the experiments file cannot be used, fix it first: {exc}",
    )


def _field_error(loc: list[str | int], message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"type": "value_error", "loc": ["body", *loc], "msg": message}],
    )


def _check_servable(experiment: Experiment) -> None:
    """What the definition allows but serving cannot do: unknown baselines, reserved names."""
    known = ", ".join(sorted(BASELINES))
    for index, variant in enumerate(experiment.variants):
        if variant.name == FALLBACK_VARIANT:
            raise _field_error(
                ["variants", index, "name"],
                f"{FALLBACK_VARIANT!r} is reserved for answers whose variant model is not loaded",
            )
        if variant.target.startswith(BASELINE_PREFIX) and variant.target not in BASELINES:
            raise _field_error(
                ["variants", index, "target"],
                f"unknown baseline {variant.target!r}; known baselines: {known}",
            )
    if experiment.holdout_target.startswith(BASELINE_PREFIX) and (
        experiment.holdout_target not in BASELINES
    ):
        raise _field_error(
            ["holdout_target"],
            f"unknown baseline {experiment.holdout_target!r}; known baselines: {known}",
        )


@router.get("/experiments", responses=_AUTH)
def list_experiments(
    request: Request, principal: AdminDep, model: ModelDep, request_id: RequestIdDep
) -> ExperimentsOut:
    """Every experiment in the file, in assignment order, with its status now."""
    try:
        experiments = _live(request).registry.experiments()
    except ExperimentConfigError as exc:
        raise _unusable(exc) from exc
    now = datetime.now(UTC)
    return ExperimentsOut(
        request_id=request_id,
        model_version=model.label,
        experiments=[ExperimentOut.of(e, now) for e in experiments],
    )


@router.post(
    "/experiments",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_AUTH,
        409: {"model": ErrorBody, "description": "An experiment of that name exists"},
        422: {"description": "Invalid definition (the field is named)"},
    },
)
def create_experiment(
    body: Experiment,
    request: Request,
    principal: AdminDep,
    holder: HolderDep,
    model: ModelDep,
    request_id: RequestIdDep,
) -> ExperimentCreatedOut:
    """Add an experiment (clients are assigned from its ``start``); the name must be new.

    Variant targets: a registry alias (``champion``, ``challenger``), a version (``3``) or a
    baseline (``baseline:segment_popularity``, ``baseline:popularity``). A model target is
    loaded now; until every worker has it, its clients get the serving model as ``fallback``.
    """
    _check_servable(body)
    live = _live(request)
    registry = live.registry
    try:
        if any(e.name == body.name for e in registry.experiments()):
            raise ExperimentConfigError(f"experiment {body.name!r} already exists")
        registry.add(body)
    except ExperimentConfigError as exc:
        if "already exists" in str(exc):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"experiment {body.name!r} already exists; end it, or pick another name",
            ) from exc
        raise _unusable(exc) from exc
    for target in model_targets([body]):
        if holder.get(target) is None and holder.load_extra(target) is None:
            log.warning("experiment %s: target %r cannot be loaded now", body.name, target)
    live.refresh()
    log.info("experiment %s created", body.name)
    return ExperimentCreatedOut(
        request_id=request_id,
        model_version=model.label,
        experiment=ExperimentOut.of(body, datetime.now(UTC)),
    )


@router.post(
    "/experiments/{name}/end",
    responses={
        **_AUTH,
        **_UNKNOWN,
        409: {"model": ErrorBody, "description": "Not started yet"},
    },
)
def end_experiment(
    name: Name, request: Request, principal: AdminDep, model: ModelDep, request_id: RequestIdDep
) -> ExperimentCreatedOut:
    """Stop assigning clients now (the definition stays, for the report)."""
    live = _live(request)
    try:
        ended = live.registry.end(name)
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no experiment {name!r}") from exc
    except ExperimentConfigError as exc:
        if "has not started" in str(exc):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"experiment {name!r} has not started yet, nothing to end",
            ) from exc
        raise _unusable(exc) from exc
    live.refresh()
    log.info("experiment %s ended", name)
    return ExperimentCreatedOut(
        request_id=request_id,
        model_version=model.label,
        experiment=ExperimentOut.of(ended, datetime.now(UTC)),
    )


@router.get(
    "/experiments/{name}/report",
    response_model=ExperimentReportOut,
    responses={**_AUTH, 404: {"model": ErrorBody, "description": "No such experiment, or no "
                              "impressions of it in the offline store yet"}},
)  # fmt: skip
def experiment_report(
    name: Name,
    request: Request,
    principal: AdminDep,
    model: ModelDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> Response:
    """Per-variant exposures, click-through, conversion and revenue, uplifts with intervals,
    tests, the sample-ratio check and sequential p-values, from the offline event log."""
    try:
        experiment = _live(request).registry.get(name)
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no experiment {name!r}") from exc
    except ExperimentConfigError as exc:
        raise _unusable(exc) from exc
    try:
        events = OfflineStore(settings.data_dir).read_events(start=experiment.start)
    except OfflineStoreError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"offline events not readable: {exc}"
        ) from exc
    if events.empty or "experiment" not in events.columns:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no impressions of experiment {name!r} in the offline store yet "
            "(run `recsys events flush` to move the event stream there)",
        )
    try:
        report = build_report(events, experiment)
    except ValueError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no report yet: {exc}") from exc
    body = ExperimentReportOut(request_id=request_id, model_version=model.label, report=report)
    return Response(body.model_dump_json(), media_type="application/json")
