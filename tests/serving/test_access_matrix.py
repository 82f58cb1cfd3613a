"""Every /v1 route x every kind of caller, in the default setup and with a cabinet key.

The policy, one row per route (``TABLE``): the status each caller gets. Callers: no key, a key
nobody issued, another manager's key (m002; the rows name m001's resources), the rightful key
(m001's or the admin's: proves the route works at all) and, where configured, the cabinet key.
``test_the_table_lists_every_v1_route`` reads the app's routes, so a new route that is not in
the table fails until its policy is written down here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS

CABINET_KEY = "cabinet-secret-key"
WRONG_KEY = "not-a-key-0123456789"
EVERY_KEY = (ADMIN_KEY, CABINET_KEY, WRONG_KEY, *MANAGER_KEYS.values())
OK, ACCEPTED, CREATED = 200, 202, 201


@dataclass(frozen=True)
class Row:
    """One route's policy; the request names m001's resources."""

    method: str
    route: str  # the route's path template, as the app lists it
    path: str  # a concrete path of that route
    owner: str  # the rightful key: "admin" or "m001"
    owner_status: int  # what the rightful key gets (a 404 or 422 shows it got past the keys)
    open_status: int  # no key, in the default setup (no cabinet key configured)
    other_manager: int  # m002's key
    cabinet: int  # the cabinet key, where one is configured
    json: Any = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


def _staff(method: str, route: str, path: str, owner: str, owner_status: int, **kw: Any) -> Row:
    """Admin and managers only: the cabinet key and no key are refused in every setup."""
    return Row(method, route, path, owner, owner_status, 401, 403, 403, **kw)


NBO = "/v1/managers/{manager_id}/next-best-offers"
TABLE = [
    # the client cabinet: open by default; a manager's key sees only its own clients
    Row("GET", "/v1/clients/{client_id}/recommendations", "/v1/clients/c000/recommendations",
        "m001", OK, open_status=OK, other_manager=403, cabinet=OK),
    Row("POST", "/v1/recommendations", "/v1/recommendations", "m001", OK, open_status=OK,
        other_manager=403, cabinet=OK, json={"owned": ["backup"], "client_id": "c000"}),
    Row("GET", "/v1/items/{item_id}/similar", "/v1/items/backup/similar", "m001", OK,
        open_status=OK, other_manager=OK, cabinet=OK),
    # events change what a client owns: a key always; a manager's key for its own clients
    Row("POST", "/v1/events", "/v1/events", "m001", ACCEPTED, open_status=401,
        other_manager=403, cabinet=ACCEPTED,
        json={"client_id": "c000", "item_ids": ["gov_cloud"], "event_type": "purchase"}),
    # account managers: the manager's own portfolio, or the admin
    _staff("GET", NBO, "/v1/managers/m001/next-best-offers", "m001", OK),
    _staff("GET", f"{NBO}.{{fmt}}", "/v1/managers/m001/next-best-offers.csv", "m001", OK),
    # churn risk: the client's manager or the admin (503: no churn model in this setup)
    _staff("GET", "/v1/clients/{client_id}/churn-risk", "/v1/clients/c000/churn-risk", "m001",
           503),
    # what is loaded: any staff key (another manager's too); reload and experiments: admin only
    Row("GET", "/v1/models", "/v1/models", "m001", OK, open_status=401, other_manager=OK,
        cabinet=403),
    _staff("POST", "/v1/admin/reload", "/v1/admin/reload", "admin", OK),
    _staff("GET", "/v1/experiments", "/v1/experiments", "admin", OK),
    _staff("POST", "/v1/experiments", "/v1/experiments", "admin", 422, json={}),
    _staff("POST", "/v1/experiments/{name}/end", "/v1/experiments/nope/end", "admin", 404),
    _staff("GET", "/v1/experiments/{name}/report", "/v1/experiments/nope/report", "admin", 404),
]  # fmt: skip


def v1_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every /v1 route the app answers, included routers too."""
    try:  # FastAPI >= 0.16x keeps included routers as a tree
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = app.routes
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and path.startswith("/v1/") and methods:
            found |= {(method, path) for method in methods - {"HEAD", "OPTIONS"}}
    return found


@pytest.fixture(params=["default", "cabinet_key"])
def setup(request: pytest.FixtureRequest, settings: ServingSettings) -> Iterator[TestClient]:
    """The app as configured by default, and with a cabinet key."""
    if request.param == "cabinet_key":
        settings = settings.model_copy(update={"cabinet_key": SecretStr(CABINET_KEY)})
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_table_lists_every_v1_route(client: TestClient) -> None:
    listed = [(row.method, row.route) for row in TABLE]
    assert len(listed) == len(set(listed)), "a route is in the table twice"
    assert v1_routes(client.app) == set(listed)  # type: ignore[arg-type]


def _check_refusal(response: Any, status: int, sent: str | None) -> list[str]:
    """What is wrong with a 401/403 body: it must explain itself and hold no key."""
    problems = []
    detail = response.json().get("detail")
    if not isinstance(detail, str) or len(detail) < 20:
        problems.append(f"unclear message {detail!r}")
    elif status == 401 and "X-API-Key" not in detail:
        problems.append(f"401 without naming the header: {detail!r}")
    elif status == 403 and not any(w in detail for w in ("may not", "not in this manager")):
        problems.append(f"403 without saying what is refused: {detail!r}")
    if status == 401 and response.headers.get("WWW-Authenticate") != "X-API-Key":
        problems.append("401 without WWW-Authenticate: X-API-Key")
    leaked = [key for key in EVERY_KEY if key in response.text or key in str(response.headers)]
    if leaked or (sent and sent in response.text):
        problems.append("a key is echoed in the answer")
    return problems


@pytest.mark.parametrize("row", TABLE, ids=[row.id for row in TABLE])
def test_every_caller_gets_the_status_of_the_policy(setup: TestClient, row: Row) -> None:
    locked = setup.app.state.settings.cabinet_key is not None  # type: ignore[attr-defined]
    owner_key = ADMIN_KEY if row.owner == "admin" else MANAGER_KEYS[row.owner]
    callers: list[tuple[str, str | None, int]] = [
        ("no key", None, 401 if locked else row.open_status),
        ("wrong key", WRONG_KEY, 401),
        ("another manager's key", MANAGER_KEYS["m002"], row.other_manager),
        (f"{row.owner}'s key", owner_key, row.owner_status),
    ]
    if locked:
        callers.append(("cabinet key", CABINET_KEY, row.cabinet))
    problems = []
    for caller, key, expected in callers:
        headers = {"X-API-Key": key} if key is not None else {}
        response = setup.request(row.method, row.path, headers=headers, json=row.json)
        where = f"{row.id} with {caller}"
        if response.status_code != expected:
            problems.append(f"{where}: {response.status_code}, want {expected}: {response.text}")
        elif expected in (401, 403):
            problems += [f"{where}: {p}" for p in _check_refusal(response, expected, key)]
    assert not problems, "\n".join(problems)
