"""What the templates show: rows built from the NBO table, filters read from the query, and
the Jinja2 environment (package templates, money formatting, the page's language:
``serving.web.i18n``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.templating import Jinja2Templates

from recommender.churn.bands import RISK_BANDS
from recommender.churn.retention import PORTFOLIO_ORDERS
from recommender.domain import ItemKind
from recommender.loyalty import ProfiProgress, TierProgress, profi_progress, tier_progress
from serving.churn_risk import ChurnRiskHolder
from serving.settings import ServingSettings
from serving.web.i18n import language_context, money, page_language
from serving.web.portfolio import Filters, ManagerView, Programmes

HERE = Path(__file__).parent
KINDS: tuple[str, ...] = tuple(k.value for k in ItemKind)
MAX_K = 10


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[language_context])
templates.env.globals["money"] = money


@dataclass(frozen=True)
class OfferRow:
    item_id: str
    name: str
    kind: str
    probability: float
    value: float
    reasons: str


@dataclass(frozen=True)
class RiskCell:
    """A client's churn risk on the page (band "" and probability None: not known)."""

    probability: float | None
    band: str
    revenue_at_risk: float


@dataclass(frozen=True)
class ClientRow:
    client_id: str
    #: The client's name, when the clients carry one ("" otherwise).
    name: str
    industry: str
    segment: str
    owned: list[str]
    tier: TierProgress
    offers: list[OfferRow]
    expected_value: float
    profi: ProfiProgress
    risk: RiskCell


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def client_rows(view: ManagerView, profi_tiers: dict[str, int] | None = None) -> list[ClientRow]:
    """One row per client, in the table's order (opportunity or revenue at risk)."""
    frame = view.frame
    k = sum(1 for c in frame.columns if c.startswith("offer_") and c.endswith("_name"))
    rows = []
    for record in frame.to_dict("records"):
        offers = [
            OfferRow(
                item_id=str(record[f"offer_{j}"]),
                name=str(record[f"offer_{j}_name"]),
                kind=str(record[f"offer_{j}_kind"]),
                probability=float(record[f"offer_{j}_probability"]),
                value=float(record[f"offer_{j}_value"]),
                reasons=_text(record.get(f"offer_{j}_reasons")),
            )
            for j in range(1, k + 1)
            if record[f"offer_{j}"]
        ]
        tier = tier_progress(float(record["spend"]), str(record["loyalty_tier"]))
        client_id = str(record["client_id"])
        probability = record.get("churn_probability")
        known = isinstance(probability, int | float) and not pd.isna(probability)
        risk = RiskCell(
            float(probability) if known else None,  # type: ignore[arg-type]
            _text(record.get("churn_band")),
            float(record.get("revenue_at_risk") or 0.0),
        )
        rows.append(
            ClientRow(
                client_id=client_id,
                name=_text(record.get("client_name")),
                industry=_text(record.get("industry")),
                segment=_text(record.get("segment")),
                owned=view.owned.get(client_id, []),
                tier=tier,
                offers=offers,
                expected_value=float(record["expected_value"]),
                profi=profi_progress(int(record.get("services") or 0), profi_tiers),
                risk=risk,
            )
        )
    return rows


def _invalid(name: str, value: str, allowed: tuple[str, ...]) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (documented so)."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[
            {
                "type": "enum",
                "loc": ["query", name],
                "msg": f"Input should be one of {', '.join(allowed)} (or empty for all)",
                "input": value,
            }
        ],
    )


def _filters(
    request: Request,
    kind: Annotated[str | None, Query(max_length=16, description="tariff, course or addon")] = None,
    industry: Annotated[str | None, Query(max_length=64)] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Offers per client")] = 3,
    sort: Annotated[
        str | None, Query(max_length=16, description="opportunity or risk (revenue at risk)")
    ] = None,
    risk: Annotated[
        str | None, Query(max_length=16, description="Churn-risk band: low, medium or high")
    ] = None,
) -> Filters:
    """Filters from the query; an empty value (the form's "all") means no filter."""
    kind = kind or None
    if kind is not None and kind not in KINDS:
        raise _invalid("kind", kind, KINDS)
    order = sort or "opportunity"
    if order not in PORTFOLIO_ORDERS:
        raise _invalid("sort", order, PORTFOLIO_ORDERS)
    band = risk or None
    if band is not None and band not in RISK_BANDS:
        raise _invalid("risk", band, RISK_BANDS)
    return Filters(
        kind=kind,
        industry=industry or None,
        k=k,
        language=page_language(request),
        sort=order,
        risk=band,
    )


FiltersDep = Annotated[Filters, Depends(_filters)]


def programmes(request: Request, settings: ServingSettings) -> Programmes:
    """The churn model's scores (if one is loaded), the risk bands and the Profi tiers."""
    holder: ChurnRiskHolder = request.app.state.churn
    churn = holder.current
    return Programmes(
        scores=churn.scores if churn is not None else None,
        bands=settings.risk_bands(),
        profi_tiers=dict(settings.profi_thresholds),
        churn_label=churn.label if churn is not None else None,
        horizon_days=churn.horizon_days if churn is not None else 90,
        churn_problem=holder.problem,
    )
