"""Events from the cabinet and CRM: impressions, clicks, purchases, enrolments, cancellations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from feature_store.replica_ack import EventNotReplicatedError
from recommender.bounds import EARLIEST_TIMESTAMP
from serving.deps import ApiKeyDep, ModelDep, RequestIdDep, StoreDep, require_own_clients
from serving.schemas import ErrorBody, EventsIn, EventsOut
from serving.security import KeyRing, Principal

router = APIRouter(prefix="/v1", tags=["events"])


async def _recorder(request: Request, api_key: ApiKeyDep) -> Principal:
    """The caller, checked before the body is validated: no key is a 401, never a 422."""
    keys: KeyRing = request.app.state.keys
    return keys.recorder(keys.identify(api_key))


RecorderDep = Annotated[Principal, Depends(_recorder)]

DESCRIPTION = """Record one event or a batch, atomically; ownership changes apply at once.

**API key required** (`X-API-Key`), also when the cabinet endpoints are open (no cabinet key
configured): events change what a client owns and so what it is recommended.

- the admin key, or the cabinet key when one is configured: events of any client;
- a manager's key: events of that manager's clients only. One client of the batch outside the
  portfolio (or unknown) refuses the whole batch with 403 and nothing is recorded.

A cabinet that reports its clients' actions needs `RECSYS_CABINET_KEY` set and sent.
"""


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    description=DESCRIPTION,
    responses={
        401: {"model": ErrorBody, "description": "No API key, or one that is not known"},
        403: {
            "model": ErrorBody,
            "description": "A manager's key and a client outside its portfolio: nothing recorded",
        },
        413: {"model": ErrorBody, "description": "Body over the size limit: not read"},
        422: {
            "description": "Unknown client or offer, bad type, a value out of range or a "
            f"timestamp outside {EARLIEST_TIMESTAMP.date()} .. 1 day ahead (field named)"
        },
        503: {
            "model": ErrorBody,
            "description": "Not accepted: the online store is unavailable, or a replica did "
            "not confirm the write in time (RECSYS_EVENT_MIN_REPLICAS). Retry after "
            "Retry-After seconds with the same event_id: a repeat is dropped.",
        },
    },
)
def post_events(
    principal: RecorderDep,
    body: EventsIn,
    store: StoreDep,
    model: ModelDep,
    request_id: RequestIdDep,
) -> EventsOut:
    events = body if isinstance(body, list) else [body]
    # every client of the batch is checked before anything is written
    require_own_clients(principal, store, list(dict.fromkeys(e.client_id for e in events)))
    try:
        ids = store.append_events(events) if events else []
    except EventNotReplicatedError as exc:  # recorded on the master only: the caller retries
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "1"}
        ) from exc
    return EventsOut(request_id=request_id, model_version=model.label, event_ids=ids)
