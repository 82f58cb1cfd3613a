"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from feature_store.events import MAX_ITEMS_PER_EVENT, EventIn
from recommender.bounds import (
    MAX_EVENT_VALUE,
    MAX_EVENTS_PER_REQUEST,
    MAX_ID_LENGTH,
    MAX_POSITION,
    checked_timestamp,
)
from recommender.domain import ItemKind, Segment
from recommender.experiments.config import Experiment
from serving.recommend import Offer, Ranking

_Text = Field(default=None, min_length=1, max_length=64)
#: An id inside a list (an offer id); ids as fields carry the same bounds.
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class Envelope(BaseModel):
    """Carried by every answer: which model answered and the request id."""

    request_id: str
    model_version: str = Field(description="'<model name>:<version>' that produced the answer")


class ErrorBody(Envelope):
    detail: str


class OfferOut(BaseModel):
    item_id: str
    kind: ItemKind
    score: float
    reasons: list[str] = Field(default_factory=list, description="Filled when explain=true")

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(
            item_id=offer.item_id, kind=offer.kind, score=offer.score, reasons=list(offer.reasons)
        )


class RecommendationsOut(Envelope):
    client_id: str | None
    degraded: bool = Field(
        description="True when the online store was unreachable: owned offers and the profile "
        "come from the request and the model only"
    )
    source: str = Field(description="personal | owned_offers | features | popularity")
    experiment: str | None = Field(
        default=None, description="The A/B experiment the client is in (null: none)"
    )
    variant: str | None = Field(
        default=None,
        description="Its variant; 'fallback' when the variant's model is not loaded and the "
        "serving model answered instead",
    )
    items: list[OfferOut]

    @classmethod
    def of(
        cls,
        ranking: Ranking,
        request_id: str,
        model_version: str,
        experiment: str | None = None,
        variant: str | None = None,
    ) -> RecommendationsOut:
        return cls(
            request_id=request_id,
            model_version=model_version,
            client_id=ranking.context.client_id,
            degraded=ranking.context.degraded,
            source=ranking.source,
            experiment=experiment,
            variant=variant,
            items=[OfferOut.of(o) for o in ranking.offers],
        )


def recommendations_json(
    ranking: Ranking,
    request_id: str,
    model_version: str,
    experiment: str | None = None,
    variant: str | None = None,
) -> bytes:
    """``RecommendationsOut.of(...).model_dump_json()`` built from plain dicts (the hot path).

    The values are already of the schema's types (str, bool, float, a valid kind), so there is
    nothing to validate; a non-finite score is written as ``null``, as pydantic writes it.
    orjson writes UTF-8 unescaped and floats in their shortest form, as pydantic does too.
    """
    context = ranking.context
    body = {
        "request_id": request_id,
        "model_version": model_version,
        "client_id": context.client_id,
        "degraded": context.degraded,
        "source": ranking.source,
        "experiment": experiment,
        "variant": variant,
        "items": [
            {
                "item_id": o.item_id,
                "kind": o.kind,
                "score": o.score if math.isfinite(o.score) else None,
                "reasons": o.reasons,  # a tuple: orjson writes it as an array
            }
            for o in ranking.offers
        ],
    }
    return orjson.dumps(body)


class ClientFeatures(BaseModel):
    """What is known about a new client; every field is optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    industry: str | None = _Text
    segment: Segment | None = None
    size_band: str | None = _Text
    region: str | None = _Text
    loyalty_tier: str | None = _Text


class ColdStartIn(BaseModel):
    """A new or unknown client described by its features and the offers it already has."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The new client's id, if it has one: it is then assigned to experiments "
        "like a known client, and its impressions are logged",
    )
    features: ClientFeatures = Field(default_factory=ClientFeatures)
    owned: list[Id] = Field(default_factory=list, max_length=1000)
    k: int | None = Field(default=None, ge=1, le=1000)
    kind: list[ItemKind] | None = Field(default=None, max_length=3)
    explain: bool = False


class NextBestOfferOut(BaseModel):
    client_id: str
    expected_value: float = Field(
        description="Sum over the offers of price x margin x a score-based purchase "
        "probability proxy (not calibrated)"
    )
    offers: list[OfferValueOut]


class OfferValueOut(OfferOut):
    probability: float
    expected_value: float

    @classmethod
    def of(cls, offer: Offer) -> OfferValueOut:
        return cls(
            item_id=offer.item_id,
            kind=offer.kind,
            score=offer.score,
            reasons=list(offer.reasons),
            probability=offer.probability,
            expected_value=offer.expected_value,
        )


class ManagerOffersOut(Envelope):
    manager_id: str
    degraded: bool
    clients: list[NextBestOfferOut]


class SimilarItemOut(BaseModel):
    item_id: str
    kind: ItemKind
    similarity: float


class SimilarItemsOut(Envelope):
    item_id: str
    items: list[SimilarItemOut]


class EventBody(EventIn):
    """``EventIn`` with every value in a range the event log and its Parquet files can hold.

    Bounds come from ``recommender.bounds`` (shared with ``recsys data import``): finite
    numbers, positions and values that fit int64 / float64 with room to spare, ids of at most
    ``MAX_ID_LENGTH`` characters and timestamps from ``EARLIEST_TIMESTAMP`` to 1 day ahead.
    """

    item_ids: list[Id] = Field(min_length=1, max_length=MAX_ITEMS_PER_EVENT)
    value: float = Field(default=1.0, ge=0, le=MAX_EVENT_VALUE, allow_inf_nan=False)
    propensities: list[Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]] | None = Field(
        default=None, description="Impressions only: logging propensity per item, in (0, 1]."
    )
    positions: list[Annotated[int, Field(ge=0, le=MAX_POSITION)]] | None = Field(
        default=None,
        description=f"Impressions only: 0-based rank per item, at most {MAX_POSITION}.",
    )

    @field_validator("timestamp")
    @classmethod
    def _utc_not_future(cls, value: datetime) -> datetime:  # replaces EventIn's check
        return checked_timestamp(value)


def _event_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, list) else "event"


#: The body of POST /v1/events: one event or a batch. An error's ``loc`` says which:
#: ``["body", "event", "value"]`` or ``["body", "batch", 3, "value"]``.
EventsIn = Annotated[
    Annotated[EventBody, Tag("event")]
    | Annotated[list[EventBody], Tag("batch"), Field(max_length=MAX_EVENTS_PER_REQUEST)],
    Discriminator(_event_or_batch),
]


class EventsOut(Envelope):
    event_ids: list[str]


class ModelOut(BaseModel):
    alias: str
    name: str
    version: str
    mode: str
    n_items: int
    n_clients: int
    loaded_at: datetime
    serving: bool


class ModelsOut(Envelope):
    source: str
    models: list[ModelOut]


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(default=None, min_length=1, max_length=64)


class ReloadOut(Envelope):
    alias: str
    previous_version: str | None
    swapped: bool
    announced: bool = Field(
        description="Whether the other workers were told (over Redis); if not, they pick the "
        "version up at their next alias poll"
    )


class HealthOut(BaseModel):
    status: str


class ReadyOut(Envelope):
    status: str = Field(description="ready | degraded")
    store: str = Field(description="up | down")
    degraded: bool


class ExperimentOut(BaseModel):
    """An experiment as defined, with where it stands now."""

    name: str
    status: Literal["scheduled", "running", "ended"]
    definition: Experiment

    @classmethod
    def of(cls, experiment: Experiment, at: datetime) -> ExperimentOut:
        return cls(name=experiment.name, status=experiment.status(at), definition=experiment)


class ExperimentsOut(Envelope):
    experiments: list[ExperimentOut]


class ExperimentCreatedOut(Envelope):
    experiment: ExperimentOut


NextBestOfferOut.model_rebuild()
