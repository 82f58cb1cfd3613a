"""A manager's portfolio read from the online store and ranked by the one ranking policy.

The pages and the exports share this one computation (``recommender.nbo``, which calls the
same ``RankingPolicy.rank`` as the API), so what a manager sees on the page is exactly what the
CSV/XLSX files hold and what the API returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from recommender.nbo import NboResult, compute_nbo, portfolio_block
from recommender.nbo_table import nbo_frame
from recommender.phrases import DEFAULT_LANGUAGE, Language, Speaker
from recommender.ranking import RankingPolicy
from serving.model_holder import LoadedModel
from serving.recommend import StoreRequiredError
from serving.store_gateway import StoreGateway

PROFILE_COLUMNS = ("industry", "segment", "size_band", "region", "manager_id", "loyalty_tier")


@dataclass(frozen=True)
class Filters:
    """What the manager chose on the page (empty: everything)."""

    kind: str | None = None
    industry: str | None = None
    k: int = 3
    #: The language of the reasons (the page's, or the export request's).
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class ManagerView:
    """The ranked table and what the page needs around it."""

    frame: pd.DataFrame
    names: dict[str, str]
    industries: list[str]
    owned: dict[str, list[str]]
    result: NboResult


def _down() -> StoreRequiredError:
    return StoreRequiredError(
        "the online store is unavailable, so the manager's portfolio cannot be read; retry shortly"
    )


def catalog_names(model: LoadedModel, store: StoreGateway) -> dict[str, str]:
    """Offer id -> display name from the catalog in the store (the id where unknown)."""
    cached = model.cache.get("web_names")
    if isinstance(cached, dict):
        return cached
    ids = [str(i) for i in model.servable.item_ids]
    records = store.items(ids)
    names = {i: i for i in ids}
    for item_id, lookup in (records or {}).items():
        if lookup.value is not None and lookup.value.get("name"):
            names[item_id] = str(lookup.value["name"])
    if records is not None:
        model.cache["web_names"] = names
    return names


def read_clients(
    store: StoreGateway, client_ids: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clients frame, owned pairs) of the given clients, from the store."""
    profiles = store.profiles(list(client_ids)) if client_ids else {}
    owned = store.owned(list(client_ids)) if client_ids else {}
    if profiles is None or owned is None:
        raise _down()
    rows: list[dict[str, object]] = []
    pairs: list[tuple[str, str]] = []
    for client_id in client_ids:
        profile = profiles[client_id].value or {}
        rows.append({"client_id": client_id, **{c: profile.get(c) for c in PROFILE_COLUMNS}})
        pairs.extend((client_id, item) for item in sorted(owned[client_id].value or ()))
    clients = pd.DataFrame(rows, columns=["client_id", *PROFILE_COLUMNS])
    return clients, pd.DataFrame(pairs, columns=["client_id", "item_id"])


def manager_view(
    model: LoadedModel,
    store: StoreGateway,
    manager_id: str,
    filters: Filters,
    limit: int,
    policy: RankingPolicy,
) -> ManagerView:
    """The manager's ``limit`` best opportunities under ``filters``.

    The whole portfolio is ranked (the batch kernel takes well under a millisecond per hundred
    clients) and then cut, so the rows kept are the best, not the first by id.
    """
    members = store.clients_of_manager(manager_id)
    if members is None:
        raise _down()
    clients, owned = read_clients(store, sorted(members))
    industries = sorted({str(i) for i in clients["industry"].dropna() if i})
    if filters.industry:
        clients = clients[clients["industry"] == filters.industry]
    view = _view(model, store, clients, owned, filters, industries, policy)
    return replace(view, frame=view.frame.head(limit))


def client_view(
    model: LoadedModel,
    store: StoreGateway,
    client_id: str,
    filters: Filters,
    policy: RankingPolicy,
) -> ManagerView:
    """One client's view (the same table with one row)."""
    clients, owned = read_clients(store, [client_id])
    return _view(model, store, clients, owned, filters, [], policy)


def _view(
    model: LoadedModel,
    store: StoreGateway,
    clients: pd.DataFrame,
    owned: pd.DataFrame,
    filters: Filters,
    industries: list[str],
    policy: RankingPolicy,
) -> ManagerView:
    names = catalog_names(model, store)
    rules = policy.rules(filters.k, [filters.kind] if filters.kind else None)
    block = portfolio_block(clients, owned, model.ranking)
    speaker = Speaker(filters.language, "manager")
    result = compute_nbo(model.ranking, block, policy, rules, names=names, speaker=speaker)
    held: dict[str, list[str]] = {}
    for client_id, item_id in owned.itertuples(index=False):
        held.setdefault(str(client_id), []).append(names.get(str(item_id), str(item_id)))
    return ManagerView(nbo_frame(result, model.servable, names), names, industries, held, result)
