"""API keys: no key, a wrong key and another manager's key on every protected endpoint."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS, admin, manager

WRONG = {"X-API-Key": "not-a-key"}
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
        ServingSettings(mode="production", admin_key="")  # type: ignore[arg-type]
    ServingSettings(mode="production", admin_key="x" * 16)  # type: ignore[arg-type]


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
