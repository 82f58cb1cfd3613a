"""Domain glue of the recommendation endpoints: who the client is, what it owns, the ranking.

``ClientContext`` describes a client the way the scorer and the rules need it (model index,
owned item indices, segment, feature names, popularity rows), built from the online store or
from a cold-start request. ``rank`` scores, boosts (margin; loyalty-tier progress), calls the
numba kernel and attaches reasons and an expected value. When the store is unavailable the
context is built from what the model and the request know, and flagged ``degraded``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from recommender.dataset import DEFAULT_CLIENT_FEATURES
from recommender.loyalty import tier_progress
from recommender.models.base import fallback_rows
from recommender.ranking.fast import rank_scores
from recommender.ranking.rules import RankingRules
from serving.exploration import explore
from serving.kernels import boost_values, offer_values, owned_spend, score_stats
from serving.model_holder import LoadedModel
from serving.reasons import reasons_for
from serving.store_gateway import ClientState, StoreGateway

_NONE = np.empty(0, dtype=np.int64)
_ALL_ROWS = ("all",)


class UnknownClientError(LookupError):
    """Neither the online store nor the model knows the client."""


class UnknownItemError(LookupError):
    """A request names an offer the model does not know; ``field`` says where."""

    def __init__(self, field: str, item_id: str) -> None:
        self.field = field
        super().__init__(f"{field}: unknown offer {item_id!r}")


class StoreRequiredError(RuntimeError):
    """The answer needs the online store (e.g. a manager's portfolio) and it is down."""


@dataclass(frozen=True)
class ClientContext:
    """One client as the scorer and the business rules see it."""

    client_id: str | None
    model_index: int | None
    owned: np.ndarray
    profile: Mapping[str, Any]
    degraded: bool

    def attribute(self, name: str) -> str | None:
        value = self.profile.get(name)
        return None if value in (None, "") else str(value)

    # computed once per context (the scorer, the rules and the response all ask)
    @cached_property
    def segment(self) -> str | None:
        return self.attribute("segment")

    @cached_property
    def features(self) -> tuple[str, ...]:
        pairs = ((c, self.attribute(c)) for c in DEFAULT_CLIENT_FEATURES)
        return tuple(f"{c}={v}" for c, v in pairs if v is not None)

    @cached_property
    def popularity_rows(self) -> tuple[str, ...]:
        return fallback_rows(self.attribute("industry"), self.segment)


class Offer(NamedTuple):
    """One ranked offer (a named tuple: ten of these are built per request)."""

    item_index: int
    item_id: str
    kind: str
    score: float
    probability: float
    expected_value: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Ranking:
    """The answer for one client."""

    context: ClientContext
    offers: list[Offer]
    source: str
    #: Logged propensity per offer (see ``serving.exploration``); None: the deterministic list.
    explored: list[float] | None = None

    @property
    def expected_value(self) -> float:
        return float(sum(o.expected_value for o in self.offers))

    @property
    def propensities(self) -> list[float]:
        """Per offer, the chance that a random slot of this answer holds it (for replay)."""
        if self.explored is not None:
            return self.explored
        n = len(self.offers)
        return [1.0 / n] * n


def owned_indices(model: LoadedModel, item_ids: Sequence[str]) -> np.ndarray:
    """Model indices of the owned offers the model knows (others cannot be ranked anyway)."""
    found = [model.item_index[i] for i in item_ids if i in model.item_index]
    return np.unique(np.asarray(found, dtype=np.int64)) if found else _NONE


def client_context(model: LoadedModel, store: StoreGateway, client_id: str) -> ClientContext:
    """The context of a stored or model-known client; ``UnknownClientError`` for neither."""
    return context_of(model, client_id, store.client_state(client_id))


def context_of(model: LoadedModel, client_id: str, state: ClientState | None) -> ClientContext:
    """The context from what the store returned (``None``: degraded, the model alone)."""
    index = model.client_index.get(client_id)
    if state is None:
        return ClientContext(client_id, index, _NONE, {}, degraded=True)
    profile, held = state
    if not profile.present and index is None:
        raise UnknownClientError(client_id)
    items = owned_indices(model, sorted(held.value)) if held.value else _NONE
    return ClientContext(client_id, index, items, profile.value or {}, degraded=False)


def manager_contexts(
    model: LoadedModel, store: StoreGateway, manager_id: str
) -> list[ClientContext]:
    """Contexts of all of a manager's clients, by id (ranking them comes after); needs the store."""
    members = store.clients_of_manager(manager_id)
    ids = sorted(members) if members is not None else []
    profiles = store.profiles(ids) if ids else {}
    owned = store.owned(ids) if ids else {}
    if members is None or profiles is None or owned is None:
        raise StoreRequiredError(
            "the online store is unavailable, so the manager's portfolio cannot be read; "
            "retry shortly"
        )
    out = []
    for client_id in ids:
        held = owned[client_id].value
        items = owned_indices(model, sorted(held)) if held is not None else _NONE
        profile = profiles[client_id].value or {}
        out.append(
            ClientContext(client_id, model.client_index.get(client_id), items, profile, False)
        )
    return out


def scoring_source(model: LoadedModel, ctx: ClientContext) -> str:
    """Which scoring path ``Scorer.scores`` takes for this client (for the response)."""
    servable, scorer = model.servable, model.scorer
    if servable.mode == "item_item" and servable.item_item is not None and len(ctx.owned):
        return "owned_offers"
    if servable.mode == "factors":
        if scorer.is_known(ctx.model_index):
            return "personal"
        if len(ctx.owned) and servable.fold_in_regularization is not None:
            return "owned_offers"
        if ctx.features and scorer.feature_vector(ctx.features) is not None:
            return "features"
    return "popularity"


@dataclass(frozen=True)
class Boosts:
    """Business boosts, as fractions of the client's score spread.

    - ``margin``: each offer's margin (a fraction of its price), for every client;
    - ``loyalty``: for a client below the top tier, how much of the spend still needed for the
      next tier the offer's yearly price covers (``price / needed``, at most 1: an offer that
      closes the gap gets the whole boost). The tier is the profile's ``loyalty_tier`` (or the
      spend's own), the spend the list prices of the owned offers (``recommender.loyalty``).
    """

    margin: float = 0.0
    loyalty: float = 0.0

    def vector(
        self,
        model: LoadedModel,
        ctx: ClientContext,
        scores: np.ndarray,
        spread: float | None = None,
    ) -> np.ndarray:
        """The boost per offer (empty when there is none to add).

        ``spread`` (max - min of the finite scores) is computed here unless given.
        """
        if self.margin <= 0 and self.loyalty <= 0:
            return np.zeros(0, dtype=np.float32)
        if spread is None:
            spread = _stats(scores).spread
        spread = spread if spread > 0 else 1.0
        arrays = _item_arrays(model)
        needed = self.needed(model, ctx) if self.loyalty > 0 else 0.0
        return boost_values(
            arrays.margin64, arrays.price64, self.margin, self.loyalty, needed, spread
        )

    @staticmethod
    def needed(model: LoadedModel, ctx: ClientContext) -> float:
        """The yearly spend the client still needs for its next tier (0 at the top or past it)."""
        spend = owned_spend(_item_arrays(model).price64, ctx.owned) if len(ctx.owned) else 0.0
        return tier_progress(spend, ctx.attribute("loyalty_tier")).needed


@dataclass(frozen=True)
class _ScoreStats:
    spread: float
    mean: float
    std: float


def _stats(scores: np.ndarray) -> _ScoreStats:
    """Spread, mean and standard deviation of the finite scores (0 when there are none)."""
    return _ScoreStats(*score_stats(scores))


@dataclass(frozen=True)
class _ItemArrays:
    """Per-item values the answers read, derived once per loaded model."""

    ids: list[str]
    kinds: list[str]
    margin64: np.ndarray
    price64: np.ndarray
    value64: np.ndarray  # price x margin


def _item_arrays(model: LoadedModel) -> _ItemArrays:
    arrays = model.cache.get("serving_items")
    if arrays is None:
        catalog = model.servable.catalog
        arrays = _ItemArrays(
            ids=[str(i) for i in model.servable.item_ids],
            kinds=[catalog.kind_names[int(k)] for k in catalog.kind],
            margin64=np.asarray(catalog.margin, dtype=np.float64),
            price64=np.asarray(catalog.price, dtype=np.float64),
            value64=np.asarray(catalog.price, dtype=np.float64)
            * np.asarray(catalog.margin, dtype=np.float64),
        )
        model.cache["serving_items"] = arrays
    return arrays


@dataclass(frozen=True)
class Exploration:
    """Explore with ``epsilon`` per slot after the first, seeded by ``request_id``."""

    epsilon: float
    request_id: str


def rank(
    model: LoadedModel,
    ctx: ClientContext,
    rules: RankingRules,
    boosts: Boosts,
    name_of: Callable[[int], str] | None = None,
    *,
    baseline_rows: Sequence[str] | None = None,
    exploration: Exploration | None = None,
) -> Ranking:
    """Top offers for one client; reasons only when ``name_of`` is given (explain).

    ``baseline_rows``: score by these popularity rows whatever the model could do (the
    popularity baselines of an experiment). ``exploration``: see ``serving.exploration``.
    """
    if baseline_rows is not None:
        source = "popularity"
        scores = model.scorer.popularity_scores(baseline_rows)
    else:
        source = scoring_source(model, ctx)
        # features and popularity rows only where the scorer reads them (they cost a few us)
        features = ctx.features if source == "features" else ()
        rows = ctx.popularity_rows if source == "popularity" else _ALL_ROWS
        scores = model.scorer.scores(ctx.model_index, ctx.owned, features, rows)
    stats = _stats(scores)
    boost = boosts.vector(model, ctx, scores, stats.spread)
    explored: list[float] | None = None
    if exploration is not None and exploration.epsilon > 0:
        everything = replace(rules, k=model.servable.n_items)
        pool, pool_totals = rank_scores(
            scores,
            ctx.owned,
            model.servable.catalog,
            ctx.segment,
            everything,
            boost if len(boost) else None,
        )
        shown, explored = explore(
            len(pool), min(rules.k, len(pool)), exploration.epsilon, exploration.request_id
        )
        top, totals = pool[shown], pool_totals[shown]
    else:
        top, totals = rank_scores(
            scores,
            ctx.owned,
            model.servable.catalog,
            ctx.segment,
            rules,
            boost if len(boost) else None,
        )
    arrays = _item_arrays(model)
    # the probability proxy and expected value of the chosen few
    probabilities, values = offer_values(scores, top, stats.mean, stats.std, arrays.value64)
    offers = [
        Offer(
            item_index=item,
            item_id=arrays.ids[item],
            kind=arrays.kinds[item],
            score=total,
            probability=probability,
            expected_value=value,
            reasons=(),
        )
        for item, total, probability, value in zip(
            top.tolist(), totals.tolist(), probabilities.tolist(), values.tolist(), strict=True
        )
    ]
    ranking = Ranking(ctx, offers, source, explored)
    return ranking if name_of is None else explained(model, ranking, name_of)


def explained(model: LoadedModel, ranking: Ranking, name_of: Callable[[int], str]) -> Ranking:
    """``ranking`` with the reasons of each offer (see ``serving.reasons``)."""
    ctx = ranking.context
    offers = [
        offer._replace(
            reasons=tuple(
                reasons_for(model, offer.item_index, ctx.owned, ctx.popularity_rows, name_of)
            )
        )
        for offer in ranking.offers
    ]
    return replace(ranking, offers=offers)


def namer(model: LoadedModel, store: StoreGateway, indices: Sequence[int]) -> Callable[[int], str]:
    """Offer names from the catalog snapshot (one read); the item id when unknown or degraded."""
    ids = [str(model.servable.item_ids[i]) for i in dict.fromkeys(indices)]
    records = store.items(ids) if ids else {}
    names: dict[str, str] = {}
    for item_id, lookup in (records or {}).items():
        if lookup.value is not None and lookup.value.get("name"):
            names[item_id] = str(lookup.value["name"])

    def name_of(index: int) -> str:
        item_id = str(model.servable.item_ids[index])
        return names.get(item_id, item_id)

    return name_of
