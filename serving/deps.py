"""FastAPI dependencies as ``Annotated`` aliases, so routes read as plain signatures.

They are ``async def`` on purpose: they do no I/O, and an async dependency runs on the event
loop instead of costing a threadpool hop per request.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader

from recommender.domain import ItemKind
from recommender.ranking import RankingPolicy
from recommender.ranking.rules import RankingRules
from serving.model_holder import LoadedModel, ModelHolder
from serving.recommend import Exploration
from serving.security import API_KEY_HEADER, KeyRing, Principal, require_portfolio
from serving.settings import ServingSettings
from serving.store_gateway import StoreGateway

#: Hard ceiling of ``k`` in the schema; ``ServingSettings.max_k`` may lower it.
K_CEILING = 1000

#: Where a request field came from, as the first element of a validation error's ``loc``.
Location = Literal["query", "body", "path", "header"]

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="API key")


async def _settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


async def _holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


async def _store(request: Request) -> StoreGateway:
    store: StoreGateway = request.app.state.store
    return store


async def _model(request: Request) -> LoadedModel:
    """The serving model, read once per request; its label goes into the response header."""
    return current_model(request)


def current_model(request: Request) -> LoadedModel:
    """``_model`` as a plain call, for routes that resolve their inputs themselves."""
    try:
        model: LoadedModel = request.app.state.holder.current
    except LookupError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="no model is loaded yet"
        ) from None
    request.scope.setdefault("state", {})["model_version"] = model.label
    return model


async def _request_id(request: Request) -> str:
    return str(request.state.request_id)


async def _principal(request: Request, key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    keys: KeyRing = request.app.state.keys
    return keys.identify(key)


async def _admin(
    request: Request, principal: Annotated[Principal, Depends(_principal)]
) -> Principal:
    keys: KeyRing = request.app.state.keys
    return keys.require(principal, "admin")


async def _staff(
    request: Request, principal: Annotated[Principal, Depends(_principal)]
) -> Principal:
    keys: KeyRing = request.app.state.keys
    return keys.require(principal, "admin", "manager")


async def _cabinet(
    request: Request, principal: Annotated[Principal, Depends(_principal)]
) -> Principal:
    keys: KeyRing = request.app.state.keys
    return keys.cabinet(principal)


SettingsDep = Annotated[ServingSettings, Depends(_settings)]
HolderDep = Annotated[ModelHolder, Depends(_holder)]
StoreDep = Annotated[StoreGateway, Depends(_store)]
ModelDep = Annotated[LoadedModel, Depends(_model)]
RequestIdDep = Annotated[str, Depends(_request_id)]
AdminDep = Annotated[Principal, Depends(_admin)]
StaffDep = Annotated[Principal, Depends(_staff)]
CabinetDep = Annotated[Principal, Depends(_cabinet)]
ApiKeyDep = Annotated[str | None, Depends(_api_key)]

KQuery = Annotated[
    int | None, Query(ge=1, le=K_CEILING, description="Number of offers (default: server's)")
]
KindQuery = Annotated[
    list[ItemKind] | None, Query(description="Only these offer kinds (repeat the parameter)")
]
ExplainQuery = Annotated[bool, Query(description="Attach reasons to each offer")]


def out_of_range(name: str, value: int, limit: int, location: Location = "query") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors; ``location`` is where ``name`` was."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[
            {
                "type": "less_than_equal",
                "loc": [location, name],
                "msg": f"Input should be less than or equal to {limit}",
                "input": value,
            }
        ],
    )


def ranking_rules(
    settings: ServingSettings,
    k: int | None,
    kinds: list[ItemKind] | None,
    k_location: Location = "query",
) -> RankingRules:
    """Rules of one request; ``k`` above ``settings.max_k`` is a 422 pointing at ``k_location``."""
    chosen = settings.default_k if k is None else k
    if chosen > settings.max_k:
        raise out_of_range("k", chosen, settings.max_k, k_location)
    kind_names = frozenset(kind.value for kind in kinds) if kinds else None
    return _rules(chosen, kind_names, settings.max_per_kind)


@functools.lru_cache(maxsize=1024)
def _rules(k: int, kinds: frozenset[str] | None, max_per_kind: int) -> RankingRules:
    """Rules are immutable and few distinct ones are asked for: built (and hashed) once."""
    return RankingRules(k=k, kinds=kinds, max_per_kind=max_per_kind)


def ranking_policy(settings: ServingSettings) -> RankingPolicy:
    """The one ranking policy of these settings (built once per settings object)."""
    entry = _POLICIES.get(id(settings))
    if entry is None or entry[0] is not settings:
        if len(_POLICIES) >= 64:
            _POLICIES.clear()
        entry = _POLICIES[id(settings)] = (settings, RankingPolicy.from_settings(settings))
    return entry[1]


_POLICIES: dict[int, tuple[ServingSettings, RankingPolicy]] = {}


def exploration(settings: ServingSettings, request_id: str) -> Exploration | None:
    """The request's exploration (seeded by its id), or None when it is switched off."""
    epsilon = settings.exploration_epsilon
    return Exploration(epsilon, request_id) if epsilon > 0 else None


def require_own_clients(principal: Principal, store: StoreGateway, client_ids: list[str]) -> None:
    """A manager's key may name only its own clients: one read of their profiles, then
    ``require_portfolio`` (403 for foreign and unknown alike, 503 without the store)."""
    if principal.role != "manager" or not client_ids:
        return
    found = store.profiles(client_ids)
    require_portfolio(principal, None if found is None else {c: found[c].value for c in client_ids})
