"""What an A/B report holds: per-variant figures, uplifts vs the control, the SRM check.

Plain frozen pydantic models, so the report is one ``model_dump_json`` away from the JSON file,
the admin API and MLflow (NaN becomes null).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Metric = Literal["conversion", "revenue_per_client"]

_FROZEN = ConfigDict(frozen=True)


class VariantStats(BaseModel):
    model_config = _FROZEN

    variant: str
    exposures: int
    clients: int
    clicks: int
    click_through: float
    conversions: int
    conversion: float
    revenue: float
    revenue_per_client: float
    #: Retention (``recommender.experiments.retention``): clients holding a tariff at their
    #: first exposure, how many of them churned by the window's end, the rate and 1 - rate
    #: (NaN when no history was given or no client held a tariff).
    at_risk_clients: int = 0
    churned: int = 0
    churn_rate: float = float("nan")
    retention: float = float("nan")


class Uplift(BaseModel):
    """One treatment vs the control on one metric."""

    model_config = _FROZEN

    metric: Metric
    variant: str
    test: Literal["z", "welch"]
    control: float
    treatment: float
    absolute: float
    absolute_low: float
    absolute_high: float
    relative: float
    relative_low: float
    relative_high: float
    statistic: float
    p_value: float
    sequential_p_value: float
    significant: bool
    sequential_significant: bool


class SrmSummary(BaseModel):
    model_config = _FROZEN

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    flagged: bool
    weights_assumed_equal: bool


class ExperimentReport(BaseModel):
    model_config = _FROZEN

    experiment: str
    control: str
    alpha: float
    first_exposure: datetime
    last_event: datetime
    looks: int
    mixed_clients: int
    variants: list[VariantStats]
    uplifts: list[Uplift]
    srm: SrmSummary
    warnings: list[str]

    def to_json(self) -> str:
        """JSON text; NaN and infinities become null."""
        return self.model_dump_json(indent=2)
