"""What is live, and a reload (e.g. after ``recsys promote`` moved an alias)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from serving.deps import AdminDep, HolderDep, RequestIdDep, StaffDep
from serving.model_holder import ModelRefusedError
from serving.reload_broadcast import announce
from serving.schemas import ErrorBody, ModelOut, ModelsOut, ReloadIn, ReloadOut

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/models", responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})
async def list_models(
    holder: HolderDep, principal: StaffDep, request_id: RequestIdDep, request: Request
) -> ModelsOut:
    """The loaded model of each alias; the first alias answers requests."""
    models = holder.models()
    if models:
        request.state.model_version = holder.current.label
    return ModelsOut(
        request_id=request_id,
        model_version=models[0].label if models else "none",
        source=holder.source.description,
        models=[
            ModelOut(
                alias=m.alias,
                name=m.name,
                version=m.version,
                mode=m.servable.mode,
                n_items=m.servable.n_items,
                n_clients=len(m.servable.client_ids),
                loaded_at=m.loaded_at,
                serving=m.alias == holder.serving_alias,
            )
            for m in models
        ],
    )


@router.post(
    "/admin/reload",
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "The alias is not served"},
        409: {"model": ErrorBody, "description": "Refused: the old version keeps serving"},
    },
)
def reload_model(
    holder: HolderDep,
    principal: AdminDep,
    request_id: RequestIdDep,
    request: Request,
    body: ReloadIn | None = None,
) -> ReloadOut:
    """Load the version an alias points to now and swap it in atomically.

    The other workers are told over Redis and follow within a moment
    (``serving.reload_broadcast``); without Redis they follow at their next alias poll.
    """
    alias = (body.alias if body else None) or holder.serving_alias
    if alias not in holder.served_aliases:
        served = ", ".join(holder.served_aliases)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"alias {alias!r} is not served; served aliases: {served}",
        )
    previous = next((m.version for m in holder.models() if m.alias == alias), None)
    try:
        loaded = holder.reload(alias)
    except ModelRefusedError as exc:
        request.app.state.metrics.reloads.labels("refused").inc()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"model refused, the running version keeps serving: {exc}",
        ) from exc
    request.app.state.metrics.reloads.labels("swapped").inc()
    request.state.model_version = holder.current.label
    store = request.app.state.store.store
    announced = store is not None and announce(store.redis, alias, loaded.version)
    return ReloadOut(
        request_id=request_id,
        model_version=loaded.label,
        alias=alias,
        previous_version=previous,
        swapped=previous != loaded.version,
        announced=announced,
    )
