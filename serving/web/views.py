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

from recommender.domain import ItemKind
from recommender.loyalty import TierProgress, tier_progress
from serving.web.i18n import language_context, money, page_language
from serving.web.portfolio import Filters, ManagerView

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
class ClientRow:
    client_id: str
    industry: str
    segment: str
    owned: list[str]
    tier: TierProgress
    offers: list[OfferRow]
    expected_value: float


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def client_rows(view: ManagerView) -> list[ClientRow]:
    """One row per client, in the table's (opportunity) order."""
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
        rows.append(
            ClientRow(
                client_id=client_id,
                industry=_text(record.get("industry")),
                segment=_text(record.get("segment")),
                owned=view.owned.get(client_id, []),
                tier=tier,
                offers=offers,
                expected_value=float(record["expected_value"]),
            )
        )
    return rows


def _filters(
    request: Request,
    kind: Annotated[str | None, Query(max_length=16, description="tariff, course or addon")] = None,
    industry: Annotated[str | None, Query(max_length=64)] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Offers per client")] = 3,
) -> Filters:
    """Filters from the query; an empty value (the form's "all") means no filter."""
    kind = kind or None
    if kind is not None and kind not in KINDS:
        raise HTTPException(  # shaped like FastAPI's own validation errors (documented so)
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "type": "enum",
                    "loc": ["query", "kind"],
                    "msg": f"Input should be one of {', '.join(KINDS)} (or empty for all)",
                    "input": kind,
                }
            ],
        )
    return Filters(kind=kind, industry=industry or None, k=k, language=page_language(request))


FiltersDep = Annotated[Filters, Depends(_filters)]
