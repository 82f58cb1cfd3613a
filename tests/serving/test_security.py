"""API keys: who may see and change what (every route x caller: ``test_access_matrix.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from feature_store.redis_store import RedisOnlineStore
from serving.app import create_app
from serving.settings import ServingSettings
from serving.store_gateway import StoreGateway
from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS, admin, manager

WRONG = {"X-API-Key": "not-a-key"}
CABINET_KEY = "cabinet-secret-key"
CABINET = {"X-API-Key": CABINET_KEY}
PROTECTED = [
    ("GET", "/v1/managers/m001/next-best-offers"),
    ("GET", "/v1/models"),
    ("POST", "/v1/admin/reload"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_key_and_wrong_key_are_401(client: TestClient, method: str, path: str) -> None:
    missing = client.request(method, path)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = client.request(method, path, headers=WRONG)
    assert wrong.status_code == 401
    assert "not-a-key" not in wrong.text


def test_manager_sees_only_its_portfolio(client: TestClient) -> None:
    own = client.get("/v1/managers/m001/next-best-offers", headers=manager("m001"))
    assert own.status_code == 200
    body = own.json()
    assert body["clients"]
    assert body["model_version"]
    assert body["request_id"]
    values = [c["expected_value"] for c in body["clients"]]
    assert values == sorted(values, reverse=True)
    assert all(int(c["client_id"][1:]) % 2 == 0 for c in body["clients"])  # m001: even ids
    first = body["clients"][0]["offers"][0]
    assert first["reasons"]
    assert 0 < first["probability"] < 1
    other = client.get("/v1/managers/m001/next-best-offers", headers=manager("m002"))
    assert other.status_code == 403
    assert "m001" in other.json()["detail"]


def test_admin_sees_every_portfolio(client: TestClient) -> None:
    for manager_id in MANAGER_KEYS:
        response = client.get(f"/v1/managers/{manager_id}/next-best-offers", headers=admin())
        assert response.status_code == 200


def test_manager_key_on_the_cabinet_sees_only_its_clients(client: TestClient) -> None:
    assert client.get("/v1/clients/c000/recommendations", headers=manager("m001")).is_success
    foreign = client.get("/v1/clients/c001/recommendations", headers=manager("m001"))
    assert foreign.status_code == 403
    assert client.get("/v1/clients/c001/recommendations", headers=WRONG).status_code == 401


def test_admin_only_endpoints_refuse_manager_keys(client: TestClient) -> None:
    response = client.post("/v1/admin/reload", headers=manager("m001"))
    assert response.status_code == 403
    assert client.get("/v1/models", headers=manager("m001")).status_code == 200


def test_cabinet_key_when_configured(settings: ServingSettings) -> None:
    from serving.app import create_app

    locked = settings.model_copy(update={"cabinet_key": settings.admin_key.__class__("cab-key")})
    with TestClient(create_app(locked)) as cabinet:
        assert cabinet.get("/v1/clients/c000/recommendations").status_code == 401
        ok = cabinet.get("/v1/clients/c000/recommendations", headers={"X-API-Key": "cab-key"})
        assert ok.status_code == 200
        assert cabinet.post("/v1/recommendations", json={}).status_code == 401


def test_keys_never_reach_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.get("/v1/models", headers=admin())
    client.get("/v1/models", headers=WRONG)
    client.post("/v1/admin/reload", headers=admin())
    assert ADMIN_KEY not in caplog.text
    assert "not-a-key" not in caplog.text


def test_production_mode_refuses_an_empty_admin_key() -> None:
    with pytest.raises(ValueError, match="RECSYS_ADMIN_KEY"):
        ServingSettings(mode="production", admin_key="")
    ServingSettings(mode="production", admin_key="x" * 16)


def test_manager_keys_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_MANAGER_KEYS", "m001:key1, m002:key2")
    parsed = ServingSettings()
    assert {m: k.get_secret_value() for m, k in parsed.manager_keys.items()} == {
        "m001": "key1",
        "m002": "key2",
    }
    monkeypatch.setenv("RECSYS_MANAGER_KEYS", '{"m003": "key3"}')
    assert list(ServingSettings().manager_keys) == ["m003"]
    assert "key3" not in repr(ServingSettings())
    monkeypatch.setenv("RECSYS_MANAGER_KEYS", "m001")
    with pytest.raises(ValueError, match="manager_id:key"):
        ServingSettings()


@contextmanager
def locked_cabinet(settings: ServingSettings) -> Iterator[TestClient]:
    """The app with a cabinet key configured."""
    locked = settings.model_copy(update={"cabinet_key": SecretStr(CABINET_KEY)})
    with TestClient(create_app(locked), raise_server_exceptions=False) as test_client:
        yield test_client


def purchase(client_id: str, item_id: str = "gov_cloud") -> dict[str, Any]:
    return {"client_id": client_id, "item_ids": [item_id], "event_type": "purchase"}


def written(store: RedisOnlineStore) -> tuple[int, list[set[bytes]]]:
    """Stream length and the owned sets of c000, c002 (m001's) and c001 (m002's)."""
    owned = [store.redis.smembers(store.keys.owned(c)) for c in ("c000", "c001", "c002")]
    return store.redis.xlen(store.keys.events), owned


def test_events_need_a_key_even_while_the_cabinet_is_open(
    client: TestClient, store: RedisOnlineStore
) -> None:
    before = written(store)
    missing = client.post("/v1/events", json=purchase("c001"))
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    assert client.post("/v1/events", json=purchase("c001"), headers=WRONG).status_code == 401
    assert client.post("/v1/events", json={"bad": "body"}).status_code == 401  # 401 before 422
    assert written(store) == before


def test_a_manager_records_events_of_its_own_clients_only(
    client: TestClient, store: RedisOnlineStore
) -> None:
    before = written(store)
    foreign = client.post("/v1/events", json=purchase("c001"), headers=manager("m001"))
    assert foreign.status_code == 403
    assert "'c001'" in foreign.json()["detail"]
    assert "portfolio" in foreign.json()["detail"]
    assert written(store) == before
    own = client.post("/v1/events", json=purchase("c000"), headers=manager("m001"))
    assert own.status_code == 202
    assert b"gov_cloud" in store.redis.smembers(store.keys.owned("c000"))


def test_a_batch_with_one_foreign_client_records_nothing(
    client: TestClient, store: RedisOnlineStore
) -> None:
    before = written(store)
    batch = [purchase("c000"), purchase("c002", "licences"), purchase("c001")]
    refused = client.post("/v1/events", json=batch, headers=manager("m001"))
    assert refused.status_code == 403
    assert "'c001'" in refused.json()["detail"]
    assert written(store) == before
    accepted = client.post("/v1/events", json=batch[:2], headers=manager("m001"))
    assert accepted.status_code == 202
    assert len(accepted.json()["event_ids"]) == 2


def test_a_manager_cannot_tell_unknown_clients_from_foreign_ones_by_events(
    client: TestClient, store: RedisOnlineStore
) -> None:
    ghost = client.post("/v1/events", json=[purchase("c000"), purchase("ghost")],
                        headers=manager("m001"))  # fmt: skip
    foreign = client.post("/v1/events", json=purchase("c001"), headers=manager("m001"))
    assert ghost.status_code == foreign.status_code == 403
    assert store.redis.xlen(store.keys.events) == 0
    unknown = client.post("/v1/events", json=purchase("ghost"), headers=admin())
    assert unknown.status_code == 422  # the admin may learn that a client does not exist
    assert "client_id" in str(unknown.json()["detail"])


def test_admin_and_cabinet_keys_record_events_of_any_client(
    settings: ServingSettings, store: RedisOnlineStore
) -> None:
    with locked_cabinet(settings) as locked:
        assert locked.post("/v1/events", json=purchase("c001"), headers=admin()).status_code == 202
        by_cabinet = locked.post("/v1/events", json=purchase("c000"), headers=CABINET)
        assert by_cabinet.status_code == 202
        assert locked.post("/v1/events", json=purchase("c000")).status_code == 401
    assert store.redis.xlen(store.keys.events) == 2


def test_events_with_a_manager_key_while_redis_is_down_are_503(client: TestClient) -> None:
    client.app.state.store = StoreGateway(None)  # type: ignore[attr-defined]
    down = client.post("/v1/events", json=purchase("c000"), headers=manager("m001"))
    assert down.status_code == 503
    assert "nothing was done" in down.json()["detail"]
    assert down.headers["Retry-After"] == "1"
    assert client.post("/v1/events", json=purchase("c000")).status_code == 401


def test_events_document_the_key_policy(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/events"]["post"]
    assert {"401", "403", "422", "503"} <= set(operation["responses"])
    assert "API key required" in operation["description"]
    assert operation["security"]  # the X-API-Key scheme


def test_a_manager_gets_403_for_any_client_outside_its_portfolio(client: TestClient) -> None:
    unknown = client.get("/v1/clients/nobody/recommendations", headers=manager("m001"))
    foreign = client.get("/v1/clients/c001/recommendations", headers=manager("m001"))
    assert unknown.status_code == foreign.status_code == 403
    assert unknown.json()["detail"] == foreign.json()["detail"].replace("c001", "nobody")
    assert "cold start" not in unknown.text


def test_admin_and_open_cabinet_still_get_404_with_the_cold_start_hint(
    client: TestClient, settings: ServingSettings
) -> None:
    for headers in (admin(), {}):
        response = client.get("/v1/clients/nobody/recommendations", headers=headers)
        assert response.status_code == 404
        assert "POST /v1/recommendations" in response.json()["detail"]
    with locked_cabinet(settings) as locked:
        by_cabinet = locked.get("/v1/clients/nobody/recommendations", headers=CABINET)
        assert by_cabinet.status_code == 404
        assert "cold start" in by_cabinet.json()["detail"]


def test_the_cabinet_with_redis_down(client: TestClient) -> None:
    client.app.state.store = StoreGateway(None)  # type: ignore[attr-defined]
    for client_id in ("c000", "c001", "nobody"):  # own, foreign, unknown: all unverifiable
        response = client.get(f"/v1/clients/{client_id}/recommendations", headers=manager("m001"))
        assert response.status_code == 503, client_id
        assert "retry" in response.json()["detail"]
    for headers in (admin(), {}):
        degraded = client.get("/v1/clients/nobody/recommendations", headers=headers)
        assert degraded.status_code == 200
        assert degraded.json()["degraded"] is True


def test_the_cabinet_documents_its_503(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    responses = paths["/v1/clients/{client_id}/recommendations"]["get"]["responses"]
    assert {"401", "403", "404", "503"} <= set(responses)


def test_a_manager_asks_cold_start_for_a_prospect_without_client_id(client: TestClient) -> None:
    body = {"owned": ["backup"], "features": {"industry": "finance"}}
    prospect = client.post("/v1/recommendations", json=body, headers=manager("m001"))
    assert prospect.status_code == 200, prospect.text
    unknown = client.post(
        "/v1/recommendations", json={**body, "client_id": "prospect-1"}, headers=manager("m001")
    )
    assert unknown.status_code == 403
    assert "prospect-1" in unknown.json()["detail"]
    own = client.post(
        "/v1/recommendations", json={**body, "client_id": "c000"}, headers=manager("m001")
    )
    assert own.status_code == 200, own.text
