"""A manager's portfolio read from the online store and ranked by the one ranking policy.

The pages and the exports share this one computation (``recommender.nbo``, which calls the
same ``RankingPolicy.rank`` as the API), so what a manager sees on the page is exactly what the
CSV/XLSX files hold and what the API returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from recommender.churn.bands import RiskBand, RiskBands
from recommender.churn.retention import (
    PortfolioOrder,
    add_risk_columns,
    client_risk,
    filter_bands,
    order_portfolio,
    retention_reason,
)
from recommender.churn.scoring import ScoreTable
from recommender.loyalty import PROFI_TIERS, SERVICE_KINDS, profi_progress
from recommender.nbo import NboResult, compute_nbo, portfolio_block
from recommender.nbo_table import nbo_frame
from recommender.phrases import DEFAULT_LANGUAGE, Language, Speaker
from recommender.ranking import RankingPolicy
from recommender.ranking.boosts import CHURN_ATTRIBUTE
from serving.model_holder import LoadedModel
from serving.recommend import StoreRequiredError
from serving.retention import retention_marks
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
    #: The order: by opportunity (expected value) or by revenue at risk.
    sort: PortfolioOrder = "opportunity"
    #: Only clients of this churn-risk band (None: all).
    risk: RiskBand | None = None


@dataclass(frozen=True)
class Programmes:
    """What the page adds to the ranked table: churn risk (scores of the loaded churn model,
    none without one) in bands, and the "Profi" tiers."""

    scores: ScoreTable | None = None
    bands: RiskBands = field(default_factory=RiskBands)
    profi_tiers: dict[str, int] = field(default_factory=lambda: dict(PROFI_TIERS))
    #: ``name:version`` of the churn model, or None; the horizon of its probabilities.
    churn_label: str | None = None
    horizon_days: int = 90
    #: Why there is no churn risk (``None`` while a churn model is loaded).
    churn_problem: str | None = None


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
    """(clients frame, owned pairs) of the given clients, from the store.

    The frame holds every profile field (``PROFILE_COLUMNS`` first): a model that learned from
    extra client columns ranks the manager's pages from them, as it ranks the cabinet."""
    profiles = store.profiles(list(client_ids)) if client_ids else {}
    owned = store.owned(list(client_ids)) if client_ids else {}
    if profiles is None or owned is None:
        raise _down()
    rows: list[dict[str, object]] = []
    pairs: list[tuple[str, str]] = []
    columns = dict.fromkeys(["client_id", *PROFILE_COLUMNS])
    for client_id in client_ids:
        profile = profiles[client_id].value or {}
        columns.update(dict.fromkeys(profile))
        rows.append({**profile, "client_id": client_id})
        pairs.extend((client_id, item) for item in sorted(owned[client_id].value or ()))
    clients = pd.DataFrame(rows, columns=list(columns))
    return clients, pd.DataFrame(pairs, columns=["client_id", "item_id"])


def manager_view(
    model: LoadedModel,
    store: StoreGateway,
    manager_id: str,
    filters: Filters,
    limit: int,
    policy: RankingPolicy,
    programmes: Programmes | None = None,
) -> ManagerView:
    """The manager's ``limit`` first clients under ``filters``, by opportunity or by revenue
    at risk (``filters.sort``).

    The whole portfolio is ranked (the batch kernel takes well under a millisecond per hundred
    clients), filtered, ordered and then cut, so the rows kept are the first by the order, not
    by id.
    """
    members = store.clients_of_manager(manager_id)
    if members is None:
        raise _down()
    clients, owned = read_clients(store, sorted(members))
    industries = sorted({str(i) for i in clients["industry"].dropna() if i})
    if filters.industry:
        clients = clients[clients["industry"] == filters.industry]
    view = _view(model, store, clients, owned, filters, industries, policy, programmes)
    return replace(view, frame=view.frame.head(limit))


def client_view(
    model: LoadedModel,
    store: StoreGateway,
    client_id: str,
    filters: Filters,
    policy: RankingPolicy,
    programmes: Programmes | None = None,
) -> ManagerView:
    """One client's view (the same table with one row)."""
    clients, owned = read_clients(store, [client_id])
    return _view(model, store, clients, owned, replace(filters, risk=None), [], policy, programmes)


def _view(
    model: LoadedModel,
    store: StoreGateway,
    clients: pd.DataFrame,
    owned: pd.DataFrame,
    filters: Filters,
    industries: list[str],
    policy: RankingPolicy,
    programmes: Programmes | None = None,
) -> ManagerView:
    extra = programmes or Programmes()
    names = catalog_names(model, store)
    rules = policy.rules(filters.k, [filters.kind] if filters.kind else None)
    if extra.scores is not None:  # the retention boost of the policy reads it
        ids = clients["client_id"].astype(str).tolist()
        clients = clients.assign(**{CHURN_ATTRIBUTE: extra.scores.probabilities(ids)})
    block = portfolio_block(clients, owned, model.ranking)
    speaker = Speaker(filters.language, "manager")
    result = compute_nbo(model.ranking, block, policy, rules, names=names, speaker=speaker)
    held: dict[str, list[str]] = {}
    for client_id, item_id in owned.itertuples(index=False):
        held.setdefault(str(client_id), []).append(names.get(str(item_id), str(item_id)))
    frame = nbo_frame(result, model.servable, names)
    frame = add_risk_columns(frame, extra.scores, extra.bands)
    frame = _retention_reasons(frame, result, model, policy, extra, filters.language)
    frame = _profi_columns(frame, model, owned, extra.profi_tiers)
    frame = filter_bands(frame, [filters.risk] if filters.risk else [])
    frame = order_portfolio(frame, filters.sort)
    return ManagerView(frame, names, industries, held, result)


def _retention_reasons(
    frame: pd.DataFrame,
    result: NboResult,
    model: LoadedModel,
    policy: RankingPolicy,
    extra: Programmes,
    language: Language,
) -> pd.DataFrame:
    """Retention offers of at-risk clients get the reason why the client is at risk first."""
    if extra.scores is None or result.reasons is None:
        return frame
    marks = retention_marks(policy, model.ranking, result.block, result.items)[result.order()]
    if not marks.any():
        return frame
    out = frame.copy()
    for row in np.flatnonzero(marks.any(axis=1)).tolist():
        risk = client_risk(extra.scores, extra.bands, str(out.at[row, "client_id"]))
        if risk is None or risk.band is None:
            continue
        reason = retention_reason(risk, language)
        for j in np.flatnonzero(marks[row]).tolist():
            column = f"offer_{j + 1}_reasons"
            said = str(out.at[row, column] or "")
            out.at[row, column] = f"{reason}; {said}" if said else reason
    return out


def _profi_columns(
    frame: pd.DataFrame, model: LoadedModel, owned: pd.DataFrame, tiers: dict[str, int]
) -> pd.DataFrame:
    """``services`` in use (tariffs and add-ons owned), ``profi_tier``, ``profi_next_tier``
    and ``profi_needed`` (services still missing for it), after the loyalty columns."""
    kinds = dict(zip(model.ranking.item_ids, model.ranking.kinds, strict=True))
    is_service = owned["item_id"].astype(str).map(kinds).isin(SERVICE_KINDS)
    counts = owned.loc[is_service, "client_id"].astype(str).value_counts()
    services = frame["client_id"].astype(str).map(counts).fillna(0).astype(int)
    progress = [profi_progress(int(n), tiers) for n in services.tolist()]
    out = frame.copy()
    names = list(out.columns)
    at = names.index("crm_loyalty_tier") + 1 if "crm_loyalty_tier" in names else len(names)
    columns: dict[str, list[object] | np.ndarray] = {
        "services": services.to_numpy(),
        "profi_tier": [p.tier for p in progress],
        "profi_next_tier": [p.next_tier or "" for p in progress],
        "profi_needed": [p.needed for p in progress],
    }
    for offset, (name, values) in enumerate(columns.items()):
        out.insert(at + offset, name, values)
    return out
