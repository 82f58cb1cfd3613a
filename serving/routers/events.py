"""Events from the cabinet and CRM: impressions, clicks, purchases, enrolments, cancellations."""

from __future__ import annotations

from fastapi import APIRouter, status

from feature_store.events import EventIn
from serving.deps import CabinetDep, ModelDep, RequestIdDep, StoreDep
from serving.schemas import ErrorBody, EventsOut

router = APIRouter(prefix="/v1", tags=["events"])


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        422: {"description": "Unknown client or offer, bad type or timestamp (field named)"},
        503: {"model": ErrorBody, "description": "Online store unavailable: not recorded"},
    },
)
def post_events(
    body: EventIn | list[EventIn],
    store: StoreDep,
    model: ModelDep,
    principal: CabinetDep,
    request_id: RequestIdDep,
) -> EventsOut:
    """Record one event or a batch, atomically; ownership changes apply at once."""
    events = body if isinstance(body, list) else [body]
    ids = store.append_events(events) if events else []
    return EventsOut(request_id=request_id, model_version=model.label, event_ids=ids)
