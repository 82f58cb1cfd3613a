"""Next-best-offer exports of a manager's portfolio: CSV and XLSX (and Parquet), as files.

``GET /v1/managers/{manager_id}/next-best-offers.csv`` (or ``.xlsx``, ``.parquet``) takes the
page's filters and the same key (header or login cookie); the file holds the page's table.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from recommender.nbo_table import MEDIA_TYPES, write_table
from serving.churn_risk import NOT_LOADED, ChurnModelMissingError
from serving.deps import ModelDep, SettingsDep, StoreDep, ranking_policy
from serving.routers.churn import not_loaded
from serving.schemas import ErrorBody
from serving.security import forbid_manager
from serving.web.auth import WebStaffDep
from serving.web.portfolio import manager_view
from serving.web.views import FiltersDep, programmes

router = APIRouter(prefix="/v1", tags=["account managers"])


@router.get(
    "/managers/{manager_id}/next-best-offers.{fmt}",
    response_class=Response,
    responses={
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "The file"},
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        503: {
            "model": ErrorBody,
            "description": "Online store unavailable, or sort=risk / risk asked and no churn "
            "model is loaded",
        },
    },
)
def export_next_best_offers(
    request: Request,
    model: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    principal: WebStaffDep,
    manager_id: Annotated[str, Path(min_length=1, max_length=128)],
    fmt: Literal["csv", "xlsx", "parquet"],
    filters: FiltersDep,
) -> Response:
    """The manager's clients by opportunity (or by revenue at risk: ``sort=risk``) with their
    top offers and churn risk (``churn_probability``, ``churn_band``, ``revenue_at_risk``),
    as a downloadable file."""
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    extra = programmes(request, settings)
    if extra.scores is None and (filters.sort == "risk" or filters.risk):
        raise not_loaded(ChurnModelMissingError(f"{NOT_LOADED}: {extra.churn_problem}"))
    view = manager_view(
        model,
        store,
        manager_id,
        filters,
        settings.max_manager_clients,
        ranking_policy(settings),
        extra,
    )
    buffer = io.BytesIO()
    write_table(view.frame, fmt, buffer)
    return Response(
        buffer.getvalue(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(manager_id, fmt)},
    )


def content_disposition(manager_id: str, fmt: str) -> str:
    """An ASCII ``filename`` plus the exact UTF-8 name (RFC 6266), safe for any manager id."""
    name = f"next-best-offers-{manager_id}.{fmt}"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
