"""The domain vocabulary: offer kinds, segments, event types and the record types.

Records are pydantic models so that the API, the importers and the generator share one
definition of what a valid catalog item, client or interaction is. Bulk data travels as
pandas frames whose columns are named by the ``*_COLUMNS`` tuples below.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ItemKind(StrEnum):
    """The three kinds of offers the integrator sells."""

    TARIFF = "tariff"
    COURSE = "course"
    ADDON = "addon"


class Segment(StrEnum):
    """Market segment of a client: business or government."""

    B2B = "B2B"
    B2G = "B2G"


class Eligibility(StrEnum):
    """Which segments may buy an offer."""

    B2B = "B2B"
    B2G = "B2G"
    BOTH = "both"


class EventType(StrEnum):
    """What a client did with an offer. Weights live in ``FeedbackConfig``, not here."""

    PURCHASE = "purchase"
    SUBSCRIPTION_START = "subscription_start"
    RENEWAL = "renewal"
    CANCELLATION = "cancellation"
    ENROLMENT = "enrolment"
    COMPLETION = "completion"
    USAGE = "usage"
    VIEW = "view"
    IMPRESSION = "impression"
    CLICK = "click"


#: Events that make the client an owner of the offer (it is then excluded from its lists).
OWNING_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.PURCHASE,
        EventType.SUBSCRIPTION_START,
        EventType.RENEWAL,
        EventType.ENROLMENT,
        EventType.COMPLETION,
    }
)
#: Events that end ownership (a cancelled tariff frees its family).
RELEASING_EVENTS: frozenset[EventType] = frozenset({EventType.CANCELLATION})

#: Industries of the integrator's clients. Import accepts others; these are the known ones.
INDUSTRIES: tuple[str, ...] = (
    "government",
    "education",
    "healthcare",
    "finance",
    "manufacturing",
    "retail",
    "energy",
    "transport",
    "it",
    "municipal_services",
    "telecom",
    "construction",
)
SIZE_BANDS: tuple[str, ...] = ("micro", "small", "medium", "large", "enterprise")
LOYALTY_TIERS: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")

ITEM_COLUMNS: tuple[str, ...] = (
    "item_id",
    "name",
    "kind",
    "family",
    "price",
    "margin",
    "eligibility",
    "prerequisites",
    "vendor",
    "tags",
)
CLIENT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "industry",
    "segment",
    "size_band",
    "region",
    "manager_id",
    "signup_date",
    "loyalty_tier",
)
INTERACTION_COLUMNS: tuple[str, ...] = (
    "client_id",
    "item_id",
    "event_type",
    "timestamp",
    "value",
)

_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CatalogItem(BaseModel):
    """One offer of the catalog."""

    model_config = _STRICT

    item_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: ItemKind
    family: str | None = Field(
        default=None, description="Tariff family: a client holds one active tariff per family."
    )
    price: float = Field(ge=0, description="List price per period or per seat, in roubles.")
    margin: float = Field(ge=0, le=1, description="Gross margin as a fraction of the price.")
    eligibility: Eligibility = Eligibility.BOTH
    prerequisites: tuple[str, ...] = Field(
        default=(), description="Item ids the client must own first."
    )
    vendor: str = "integrator"
    tags: tuple[str, ...] = ()

    @field_validator("family")
    @classmethod
    def _empty_family_is_none(cls, value: str | None) -> str | None:
        return value or None


class Client(BaseModel):
    """One client organisation."""

    model_config = _STRICT

    client_id: str = Field(min_length=1)
    industry: str = Field(min_length=1)
    segment: Segment
    size_band: str = Field(min_length=1)
    region: str = Field(min_length=1)
    manager_id: str | None = None
    signup_date: date | None = None
    loyalty_tier: str = "bronze"


class Interaction(BaseModel):
    """One thing a client did with an offer."""

    model_config = _STRICT

    client_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    event_type: EventType
    timestamp: datetime
    value: float = Field(default=1.0, description="Quantity (seats, hours) or money value.")
