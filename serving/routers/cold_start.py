"""Cold start: recommendations for a new or unknown client from its features and owned offers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.answer import rank_and_log
from serving.deps import (
    CabinetDep,
    ModelDep,
    RequestIdDep,
    SettingsDep,
    StoreDep,
    ranking_rules,
    require_own_clients,
)
from serving.experiments import LiveExperiments
from serving.language import request_speaker
from serving.recommend import ClientContext, UnknownItemError, namer, owned_indices
from serving.schemas import ColdStartIn, ErrorBody, RecommendationsOut

router = APIRouter(prefix="/v1", tags=["client cabinet"])


@router.post(
    "/recommendations",
    responses={
        401: {"model": ErrorBody, "description": "A cabinet key is configured and not given"},
        403: {
            "model": ErrorBody,
            "description": "A manager's key with a client_id outside its portfolio",
        },
        422: {"description": "Unknown offer or bad field"},
        503: {
            "model": ErrorBody,
            "description": "No model is loaded yet, or a manager's key names a client while "
            "the online store is down",
        },
    },
)
def cold_start_recommendations(
    body: ColdStartIn,
    serving: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    principal: CabinetDep,
    request_id: RequestIdDep,
    request: Request,
) -> RecommendationsOut:
    """Offers for a client the service does not know, from what the request says about it.

    Scored by folding in the owned offers, else the features (hybrid models), else the
    popularity of the client's industry and segment. Needs no online store. With a
    ``client_id`` the client is assigned to experiments like a known one; a manager's key may
    name only its own clients there (a prospect is asked for without ``client_id``).
    """
    if body.client_id is not None:
        # the client_id assigns experiments and logs exposures: a manager may name only its
        # own clients (a prospect is asked for without one)
        require_own_clients(principal, store, [body.client_id])
    for position, item_id in enumerate(body.owned):
        if item_id not in serving.item_index:
            raise UnknownItemError(f"owned[{position}]", item_id)
    rules = ranking_rules(settings, body.k, body.kind, k_location="body")
    profile = body.features.model_dump(mode="json", exclude_none=True)
    state = request.app.state
    experiments: LiveExperiments = state.experiments
    arm = experiments.arm(
        state.holder, serving, body.client_id, profile.get("segment"), profile.get("industry")
    )
    model = arm.model
    if model is not serving:
        request.state.model_version = model.label
    ctx = ClientContext(
        body.client_id, None, owned_indices(model, body.owned), profile, degraded=False
    )
    speaker = request_speaker(request, settings, "client")
    narrator = namer(model, store, ctx.owned.tolist(), speaker) if body.explain else None
    ranking = rank_and_log(state, settings, arm, ctx, rules, narrator, body.client_id, request_id)
    return RecommendationsOut.of(ranking, request_id, model.label, arm.experiment, arm.variant)
