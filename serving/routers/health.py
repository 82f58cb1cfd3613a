"""Liveness, readiness (degraded without Redis) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from serving.deps import HolderDep, RequestIdDep, StoreDep
from serving.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> HealthOut:
    """The process is up (no dependency is checked)."""
    return HealthOut(status="ok")


@router.get("/readyz", responses={503: {"model": ReadyOut, "description": "No model loaded"}})
async def readyz(
    holder: HolderDep, store: StoreDep, request_id: RequestIdDep, response: Response
) -> ReadyOut:
    """Ready when a model is loaded; ``degraded`` when the online store does not answer."""
    store_up = await run_in_threadpool(store.ping)
    if not holder.ready:
        response.status_code = 503
        return ReadyOut(
            request_id=request_id,
            model_version="none",
            status="not ready",
            store="up" if store_up else "down",
            degraded=not store_up,
        )
    return ReadyOut(
        request_id=request_id,
        model_version=holder.current.label,
        status="ready" if store_up else "degraded",
        store="up" if store_up else "down",
        degraded=not store_up,
    )


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    data = generate_latest(request.app.state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
