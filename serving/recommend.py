"""Domain glue of the recommendation endpoints: who the client is, what it owns, the ranking.

``ClientContext`` describes a client from the online store or from a cold-start request (model
index, owned item indices, profile); ``rank`` hands it to the one ranking policy
(``recommender.ranking.RankingPolicy``) as a block of one, the same call exports make for a
whole portfolio, and attaches reasons. When the store is unavailable the context is built from
what the model and the request know, and flagged ``degraded``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from recommender.explain import Explainer
from recommender.phrases import Speaker
from recommender.ranking import ClientBlock, RankingPolicy, RankingRules, fallback_rows
from serving.exploration import explore
from serving.model_holder import LoadedModel
from serving.store_gateway import ClientState, StoreGateway

_NONE = np.empty(0, dtype=np.int64)


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

    # computed once per context (the policy, the experiments and the response all ask)
    @cached_property
    def segment(self) -> str | None:
        return self.attribute("segment")

    @cached_property
    def popularity_rows(self) -> tuple[str, ...]:
        return fallback_rows(self.attribute("industry"), self.segment)

    @cached_property
    def block(self) -> ClientBlock:
        """The client as a block of one, what the ranking policy takes."""
        return ClientBlock.one(self.client_id, self.model_index, self.owned, self.profile)


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
class Narrator:
    """What reasons need per request: offer names (from the catalog snapshot) and who speaks
    to whom in which language."""

    name_of: Callable[[int], str]
    speaker: Speaker


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


@dataclass(frozen=True)
class Exploration:
    """Explore with ``epsilon`` per slot after the first, seeded by ``request_id``."""

    epsilon: float
    request_id: str


def rank(
    model: LoadedModel,
    ctx: ClientContext,
    rules: RankingRules,
    policy: RankingPolicy,
    narrator: Narrator | None = None,
    *,
    baseline_rows: Sequence[str] | None = None,
    exploration: Exploration | None = None,
) -> Ranking:
    """Top offers for one client through the ranking policy; reasons only with ``narrator``.

    ``baseline_rows``: score by these popularity rows whatever the model could do (the
    popularity baselines of an experiment). ``exploration``: see ``serving.exploration``.
    """
    explored: list[float] | None = None
    ranking_model = model.ranking
    if exploration is not None and exploration.epsilon > 0:
        everything = replace(rules, k=ranking_model.n_items)
        ranked = policy.rank(ranking_model, ctx.block, everything, baseline_rows=baseline_rows)
        pool = ranked.row(0)
        shown, explored = explore(
            len(pool), min(rules.k, len(pool)), exploration.epsilon, exploration.request_id
        )
        positions = np.asarray(shown, dtype=np.int64)
    else:
        ranked = policy.rank(ranking_model, ctx.block, rules, baseline_rows=baseline_rows)
        positions = np.arange(len(ranked.row(0)))
    items = ranked.items[0, positions].tolist()
    offers = [
        Offer(
            item_index=item,
            item_id=ranking_model.item_ids[item],
            kind=ranking_model.kinds[item],
            score=total,
            probability=probability,
            expected_value=value,
            reasons=(),
        )
        for item, total, probability, value in zip(
            items,
            ranked.totals[0, positions].tolist(),
            ranked.probability[0, positions].tolist(),
            ranked.value[0, positions].tolist(),
            strict=True,
        )
    ]
    ranking = Ranking(ctx, offers, ranked.source_name(0), explored)
    return ranking if narrator is None else explained(model, ranking, narrator)


def explainer_of(model: LoadedModel) -> Explainer:
    """The model's ``Explainer``, built once per loaded version."""
    explainer = model.cache.get("explainer")
    if explainer is None:
        explainer = model.cache["explainer"] = Explainer(model.servable)
    return explainer


def explained(model: LoadedModel, ranking: Ranking, narrator: Narrator) -> Ranking:
    """``ranking`` with the reasons of each offer (``recommender.explain``, the same facts
    exports give), said by ``narrator``."""
    ctx = ranking.context
    explainer = explainer_of(model)
    items = [offer.item_index for offer in ranking.offers]
    facts = explainer.explain_one(items, ctx.owned, ctx.popularity_rows)
    said = explainer.say([facts], narrator.name_of, narrator.speaker)[0]
    offers = [
        offer._replace(reasons=reasons) for offer, reasons in zip(ranking.offers, said, strict=True)
    ]
    return replace(ranking, offers=offers)


def namer(
    model: LoadedModel, store: StoreGateway, indices: Sequence[int], speaker: Speaker
) -> Narrator:
    """Offer names from the catalog snapshot (one read; the item id when unknown or degraded)
    and ``speaker``."""
    ids = [str(model.servable.item_ids[i]) for i in dict.fromkeys(indices)]
    records = store.items(ids) if ids else {}
    names: dict[str, str] = {}
    for item_id, lookup in (records or {}).items():
        if lookup.value is not None and lookup.value.get("name"):
            names[item_id] = str(lookup.value["name"])

    def name_of(index: int) -> str:
        item_id = str(model.servable.item_ids[index])
        return names.get(item_id, item_id)

    return Narrator(name_of, speaker)
