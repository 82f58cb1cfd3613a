"""Liveness, readiness (degraded without Redis, or off the alias's version) and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from serving.deps import HolderDep, RequestIdDep, StoreDep
from serving.model_holder import ModelHolder
from serving.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


class ReadinessOut(ReadyOut):
    """``ReadyOut`` and which version serves, against the one the serving alias points at."""

    serving_version: str = Field(description="'<model name>:<version>' answering requests")
    champion_version: str | None = Field(
        description="The version the serving alias (champion) points at; null when unknown"
    )
    degraded_reason: str | None = Field(
        description="Why the answers are degraded (online store down, the alias's version "
        "refused and an older one serving); null when they are not"
    )


@router.get("/healthz")
async def healthz() -> HealthOut:
    """The process is up (no dependency is checked)."""
    return HealthOut(status="ok")


@router.get("/readyz", responses={503: {"model": ReadinessOut, "description": "No model loaded"}})
async def readyz(
    holder: HolderDep, store: StoreDep, request_id: RequestIdDep, response: Response
) -> ReadinessOut:
    """Ready when a model is loaded; ``degraded`` when the online store does not answer or
    when the serving alias points at a version this worker refused (``degraded_reason``)."""
    store_up = await run_in_threadpool(store.ping)
    reasons = [] if store_up else ["the online store (Redis) does not answer"]
    model_reason = holder.degraded_reason()
    if model_reason is not None:
        reasons.append(model_reason)
    degraded = bool(reasons)
    if not holder.ready:
        response.status_code = 503
        return ReadinessOut(
            request_id=request_id,
            model_version="none",
            serving_version="none",
            champion_version=_champion_version(holder),
            status="not ready",
            store="up" if store_up else "down",
            degraded=degraded,
            degraded_reason="; ".join(reasons) or None,
        )
    label = holder.current.label
    return ReadinessOut(
        request_id=request_id,
        model_version=label,
        serving_version=label,
        champion_version=_champion_version(holder),
        status="degraded" if degraded else "ready",
        store="up" if store_up else "down",
        degraded=degraded,
        degraded_reason="; ".join(reasons) or None,
    )


def _champion_version(holder: ModelHolder) -> str | None:
    """What the serving alias points at, as this worker last saw it (no registry call)."""
    behind = holder.behind()
    if behind is not None:
        return behind.version
    model = holder.get(holder.serving_alias)
    return model.version if model is not None else None


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    data = generate_latest(request.app.state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
