"""Bodies of the churn-risk answers: one client's risk, and the risk of each client of a
manager's next-best-offer list (``serving.routers.churn``, ``serving.routers.managers``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from recommender.churn.bands import RiskBand
from recommender.churn.retention import ClientRisk
from recommender.phrases import Language
from serving.schemas import Envelope, ManagerOffersOut, NextBestOfferOut


class RiskOut(BaseModel):
    """A client's churn risk within the horizon, as the churn model scored it."""

    at_risk: bool = Field(description="Holds a tariff (a client without one cannot churn)")
    probability: float | None = Field(
        description="Calibrated probability of cancelling every tariff within the horizon; "
        "null when the client holds no tariff"
    )
    band: RiskBand | None = Field(description="low, medium or high (configurable thresholds)")
    drivers: list[str] = Field(description="Why the client is at risk, in the answer's language")

    @classmethod
    def of(cls, risk: ClientRisk, language: Language) -> RiskOut:
        return cls(
            at_risk=risk.at_risk,
            probability=risk.probability,
            band=risk.band,
            drivers=risk.said(language),
        )


class ChurnRiskOut(Envelope, RiskOut):
    """``GET /v1/clients/{id}/churn-risk``; ``model_version`` names the churn model."""

    client_id: str
    scored: bool = Field(
        description="The churn model scored this client (false: the client is newer than "
        "the data the model was trained on; probability and band are then null)"
    )
    horizon_days: int
    as_of: str = Field(description="The day the scores describe (end of the training data)")
    language: Language


class NextBestOfferRiskOut(NextBestOfferOut):
    risk: RiskOut | None = Field(
        default=None, description="The client's churn risk (null: no churn model, not scored)"
    )
    revenue_at_risk: float | None = Field(
        default=None, description="Yearly spend x churn probability (null: unknown)"
    )


class ManagerRetentionOut(ManagerOffersOut):
    clients: list[NextBestOfferRiskOut]  # type: ignore[assignment]
    sort: str = Field(description="opportunity or risk (revenue at risk)")
    churn_model_version: str | None = Field(
        description="'<name>:<version>' of the churn model, or null when none is loaded"
    )
    churn_problem: str | None = Field(
        default=None, description="Why risk is missing ('churn model not loaded: ...')"
    )
