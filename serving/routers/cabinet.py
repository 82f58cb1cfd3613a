"""The client cabinet: a known client's recommendations, on every page view.

This is the service's hot path, so the route is lean (see benchmarks/bench_http.py):

- ``CabinetRoute`` answers a well-formed request (the usual case) from the raw path, query
  string and headers, without FastAPI's per-request dependency solving and validation, and
  hands anything it does not recognise (a bad or unusual ``k``, ``kind`` or ``explain``, an
  over-long id) to the regular FastAPI handler of the same endpoint, so every error is FastAPI's
  own 422 and the OpenAPI schema documents the route as usual;
- the route is ``async``: the one Redis round trip (profile and owned offers, pipelined) is
  called inline, which on loopback costs less than a hop to the threadpool. Only a probe of a
  store that has just failed (it may wait for a socket timeout) goes to a thread;
- the answer is serialised once from plain dicts (``recommendations_json``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from recommender.domain import ItemKind
from serving.answer import rank_and_log
from serving.deps import (
    K_CEILING,
    ApiKeyDep,
    ExplainQuery,
    KindQuery,
    KQuery,
    current_model,
    ranking_rules,
)
from serving.experiments import FALLBACK_VARIANT, Arm, LiveExperiments
from serving.language import request_speaker
from serving.recommend import UnknownClientError, context_of, namer
from serving.retention import risk_band, with_client_risk
from serving.schemas import ErrorBody, RecommendationsOut, recommendations_json
from serving.security import KeyRing, require_portfolio
from serving.store_gateway import StoreGateway

router = APIRouter(prefix="/v1", tags=["client cabinet"])

ClientId = Path(min_length=1, max_length=128, description="External client id")
MAX_CLIENT_ID = 128

T = TypeVar("T")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_KINDS = {kind.value: kind for kind in ItemKind}
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_K_DIGITS = len(str(K_CEILING))
_API_KEY = b"x-api-key"


async def _read(store: StoreGateway, read: Callable[..., T], *args: Any) -> T:
    """A store read: inline while the store is healthy, in a thread when it may hang."""
    if store.may_block:
        return await run_in_threadpool(read, *args)
    return read(*args)


async def answer(
    request: Request,
    client_id: str,
    k: int | None,
    kinds: list[ItemKind] | None,
    explain: bool,
    api_key: str | None,
) -> Response:
    """The endpoint's work once its inputs are known to be valid (both handlers end here)."""
    state = request.app.state
    keys: KeyRing = state.keys
    principal = keys.cabinet(keys.identify(api_key))
    serving = current_model(request)
    settings = state.settings
    rules = ranking_rules(settings, k, kinds)
    store: StoreGateway = state.store
    client_state = await store.client_state_soon(client_id)
    if principal.role == "manager":  # before context_of: 403, never 404, outside the portfolio
        profiles = None if client_state is None else {client_id: client_state[0].value}
        require_portfolio(principal, profiles)
    ctx = context_of(serving, client_id, client_state)
    experiments: LiveExperiments = state.experiments
    band = risk_band(state.churn, settings.risk_bands(), client_id)  # serving.retention
    arm = experiments.arm(
        state.holder, serving, client_id, ctx.segment, ctx.attribute("industry"), band
    )
    model = arm.model
    if model is not serving:
        try:
            ctx = context_of(model, client_id, client_state)
        except UnknownClientError:  # known to the serving model only
            arm, model = Arm(serving, None, arm.experiment, FALLBACK_VARIANT), serving
        request.scope["state"]["model_version"] = model.label
    narrator = None
    if explain:
        speaker = request_speaker(request, settings, "client")
        narrator = await _read(store, namer, model, store, ctx.owned.tolist(), speaker)
    request_id = str(request.scope["state"]["request_id"])
    ctx = with_client_risk(state.churn, ctx)  # retention offers for a client at risk
    ranking = rank_and_log(state, settings, arm, ctx, rules, narrator, client_id, request_id)
    body = recommendations_json(ranking, request_id, model.label, arm.experiment, arm.variant)
    return Response(body, media_type="application/json")


def parse_plain(request: Request) -> tuple[str, int | None, list[ItemKind] | None, bool] | None:
    """Client id, ``k``, kinds and ``explain`` of a request in the usual form; else ``None``.

    Accepts only what FastAPI would accept with the same meaning: ``k`` as plain digits in
    range, known kinds, ``explain`` as true/false/1/0, each scalar at most once. Anything else
    (including every invalid input) returns ``None`` and goes through FastAPI's validation.
    """
    client_id: str = request.scope["path_params"]["client_id"]
    if not 0 < len(client_id) <= MAX_CLIENT_ID:
        return None
    k: int | None = None
    kinds: list[ItemKind] | None = None
    explain: bool | None = None
    query: bytes = request.scope["query_string"]
    if query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name == "k":
                if k is not None or not (value.isascii() and value.isdigit()) or value[0] == "0":
                    return None
                if len(value) > _K_DIGITS:  # never int() of thousands of digits: it raises
                    return None
                k = int(value)
                if k > K_CEILING:
                    return None
            elif name == "kind":
                kind = _KINDS.get(value)
                if kind is None:
                    return None
                kinds = [*kinds, kind] if kinds else [kind]
            elif name == "explain":
                flag = _BOOLS.get(value)
                if explain is not None or flag is None:
                    return None
                explain = flag
    return client_id, k, kinds, bool(explain)


def _api_key(request: Request) -> str | None:
    for name, value in request.scope["headers"]:
        if name == _API_KEY:
            return str(value.decode("latin-1"))
    return None


class CabinetRoute(APIRoute):
    """An ``APIRoute`` whose handler takes the plain path for well-formed requests."""

    def get_route_handler(self) -> Handler:
        validating = super().get_route_handler()

        async def handler(request: Request) -> Response:
            plain = parse_plain(request)
            if plain is None:
                return await validating(request)
            return await answer(request, *plain, api_key=_api_key(request))

        return handler


async def client_recommendations(
    request: Request,
    api_key: ApiKeyDep,
    client_id: str = ClientId,
    k: KQuery = None,
    kind: KindQuery = None,
    explain: ExplainQuery = False,
) -> Response:
    """Top offers for a known client, excluding what it owns; ``degraded`` without Redis."""
    return await answer(request, client_id, k, kind, explain, api_key)


router.add_api_route(
    "/clients/{client_id}/recommendations",
    client_recommendations,
    methods=["GET"],
    route_class_override=CabinetRoute,
    responses={
        200: {"model": RecommendationsOut, "description": "Successful Response"},
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {
            "model": ErrorBody,
            "description": "Unknown client: use POST /v1/recommendations (a manager's key "
            "gets 403 instead for any client outside its portfolio, known or not)",
        },
        503: {
            "model": ErrorBody,
            "description": "No model loaded yet, or, for a manager's key, the online store is "
            "unavailable so the client's manager cannot be checked (other callers get a "
            "degraded 200)",
        },
    },
)
