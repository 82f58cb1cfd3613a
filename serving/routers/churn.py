"""``GET /v1/clients/{client_id}/churn-risk``: one client's churn risk and its drivers.

Who may ask: the admin key, or the key of the client's account manager (the manager named in
the client's online-store profile). A manager's key gets 403 for another manager's client and
for a client that does not exist alike (``serving.security.require_portfolio``), so it cannot
probe which clients exist; the admin gets 404 for a client neither the store nor the churn
model knows. Without a churn model the answer is 503 "churn model not loaded" with the reason.

The risk is a look-up in the scores the churn model's bundle carries (every client as of the
end of its training data, ``serving.churn_risk``), so the request path builds no features;
drivers are said in the request's language (``Accept-Language``, Russian by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request, status
from starlette.concurrency import run_in_threadpool

from recommender.churn.retention import client_risk
from serving.churn_risk import ChurnModelMissingError, ChurnRiskHolder
from serving.churn_schemas import ChurnRiskOut, RiskOut
from serving.deps import RequestIdDep, SettingsDep, StaffDep, StoreDep
from serving.language import request_language
from serving.recommend import StoreRequiredError
from serving.schemas import ErrorBody
from serving.security import require_portfolio
from serving.store_gateway import StoreGateway

router = APIRouter(prefix="/v1", tags=["churn risk"])
T = TypeVar("T")


async def _read(store: StoreGateway, read: Callable[..., T], *args: object) -> T:
    """A store read: inline while the store is healthy, in a thread when it may hang."""
    if store.may_block:
        return await run_in_threadpool(read, *args)
    return read(*args)


def churn_holder(request: Request) -> ChurnRiskHolder:
    holder: ChurnRiskHolder = request.app.state.churn
    return holder


def not_loaded(exc: ChurnModelMissingError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "30"}
    )


@router.get(
    "/clients/{client_id}/churn-risk",
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Not this manager's client (or no such client)"},
        404: {"model": ErrorBody, "description": "Unknown client (admin key)"},
        503: {"model": ErrorBody, "description": "Churn model not loaded, or the store down"},
    },
)
async def churn_risk(
    request: Request,
    principal: StaffDep,
    store: StoreDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    client_id: Annotated[str, Path(min_length=1, max_length=128)],
) -> ChurnRiskOut:
    """The probability that the client cancels every tariff within the horizon, its band
    (low / medium / high), and the drivers behind it."""
    profiles = await _read(store, store.profiles, [client_id])
    profile = None if profiles is None else profiles[client_id]
    require_portfolio(principal, None if profile is None else {client_id: profile.value})
    try:
        loaded = churn_holder(request).require()
    except ChurnModelMissingError as exc:
        raise not_loaded(exc) from None
    request.scope.setdefault("state", {})["model_version"] = loaded.label
    risk = client_risk(loaded.scores, settings.risk_bands(), client_id)
    if risk is None and profile is None:
        raise StoreRequiredError(
            f"client {client_id!r} is not in the churn model's scores and the online store, "
            "which would say whether it exists, is unavailable; retry shortly"
        )
    if risk is None and not (profile is not None and profile.present):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown client {client_id!r}")
    language = request_language(request, settings)
    body = (
        RiskOut.of(risk, language)
        if risk is not None
        else RiskOut(at_risk=False, probability=None, band=None, drivers=[])
    )
    return ChurnRiskOut(
        request_id=request_id,
        model_version=loaded.label,
        client_id=client_id,
        scored=risk is not None,
        horizon_days=loaded.horizon_days,
        as_of=loaded.scores.as_of,
        language=language,
        **body.model_dump(),
    )
