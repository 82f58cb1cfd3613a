"""The cabinet, cold start, similar items and read-your-writes through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from feature_store.redis_store import RedisOnlineStore
from tests.serving.conftest import ITEMS, admin, make_frames


def owned_of(client_id: str) -> set[str]:
    _, events = make_frames()
    return set(events.loc[events["client_id"] == client_id, "item_id"])


def test_known_client_gets_unowned_eligible_offers(client: TestClient) -> None:
    response = client.get("/v1/clients/c001/recommendations", params={"k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["client_id"] == "c001"
    assert body["degraded"] is False
    assert body["source"] == "personal"
    assert body["model_version"].startswith("als:")
    assert response.headers["X-Request-ID"] == body["request_id"]
    assert response.headers["X-Model-Version"] == body["model_version"]
    ids = [item["item_id"] for item in body["items"]]
    assert len(ids) == 5
    assert not set(ids) & owned_of("c001")
    assert "gov_cloud" not in ids  # c001 is a B2B finance client: B2G-only offer excluded
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_incoming_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/v1/clients/c002/recommendations", headers={"X-Request-ID": "req-42"})
    assert response.headers["X-Request-ID"] == "req-42"
    assert response.json()["request_id"] == "req-42"


def test_kind_filter_and_explain(client: TestClient) -> None:
    response = client.get(
        "/v1/clients/c000/recommendations",
        params={"kind": "course", "explain": "true", "k": 3},
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert items
    assert all(item["kind"] == "course" for item in items)
    assert all(item["reasons"] for item in items)
    assert any("%" in reason for item in items for reason in item["reasons"])


def test_reasons_name_prerequisites_and_industry(client: TestClient) -> None:
    # c000 is a healthcare client; give it Linux 1 so Linux 2 becomes "the next step"
    enrolled = client.post(
        "/v1/events",
        json={"client_id": "c000", "item_ids": ["course_linux1"], "event_type": "enrolment"},
        headers=admin(),
    )
    assert enrolled.status_code == 202, enrolled.text
    params = {"kind": "course", "explain": "true", "k": 4}
    url = "/v1/clients/c000/recommendations"
    body = client.get(url, params=params).json()  # Russian unless the request asks otherwise
    reasons = {item["item_id"]: item["reasons"] for item in body["items"]}
    assert "следующий шаг после курса «Linux 1»" in reasons["course_linux2"]
    assert all(any(r.startswith("пользуются ") for r in rs) for rs in reasons.values())
    english = client.get(url, params=params, headers={"Accept-Language": "en-GB,en;q=0.8"})
    reasons = {item["item_id"]: item["reasons"] for item in english.json()["items"]}
    assert "next step after course Linux 1" in reasons["course_linux2"]
    assert all(any(" % of " in r for r in rs) for rs in reasons.values())


def test_reasons_name_an_owned_offer_used_together(client: TestClient) -> None:
    body = client.get(
        "/v1/clients/c001/recommendations",
        params={"explain": "true"},
        headers={"Accept-Language": "en"},
    ).json()
    together = [r for item in body["items"] for r in item["reasons"] if "used together" in r]
    assert together
    assert all(r.endswith(", which you have") for r in together)
    names = dict(zip(ITEMS["name"], ITEMS["item_id"], strict=True))
    for reason in together:
        name = reason.removeprefix("often used together with ").removesuffix(", which you have")
        assert names[name] in owned_of("c001")


def test_unknown_client_is_404_with_cold_start_hint(client: TestClient) -> None:
    response = client.get("/v1/clients/nobody/recommendations")
    assert response.status_code == 404
    body = response.json()
    assert "POST /v1/recommendations" in body["detail"]
    assert body["request_id"]
    assert body["model_version"].startswith("als:")


def test_bad_k_and_kind_are_422(client: TestClient) -> None:
    for params in ({"k": 0}, {"k": 101}, {"k": "x"}, {"kind": "boat"}):
        response = client.get("/v1/clients/c001/recommendations", params=params)
        assert response.status_code == 422, params
        assert response.json()["request_id"]


def test_cold_start_from_owned_offers_and_features(client: TestClient) -> None:
    response = client.post(
        "/v1/recommendations",
        json={"features": {"industry": "government", "segment": "B2G"}, "owned": ["os_std"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "owned_offers"
    ids = [item["item_id"] for item in body["items"]]
    assert "os_std" not in ids
    assert "os_ent" not in ids

    by_features = client.post(
        "/v1/recommendations",
        json={"features": {"industry": "government", "segment": "B2G"}, "k": 3},
    ).json()
    assert by_features["source"] == "popularity"
    government = {"os_std", "gov_cloud", "migration", "course_linux1", "backup"}
    assert {item["item_id"] for item in by_features["items"]} <= government


def test_cold_start_unknown_offer_names_the_field(client: TestClient) -> None:
    response = client.post("/v1/recommendations", json={"owned": ["backup", "nope"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "owned", "1"]


def test_similar_items(client: TestClient) -> None:
    response = client.get("/v1/items/backup/similar", params={"k": 3})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 3
    assert "backup" not in {i["item_id"] for i in items}
    assert client.get("/v1/items/nope/similar").status_code == 404


def test_purchase_is_excluded_from_the_very_next_answer(client: TestClient) -> None:
    first = client.get("/v1/clients/c003/recommendations", params={"k": 1}).json()
    top = first["items"][0]["item_id"]
    posted = client.post(
        "/v1/events",
        json={"client_id": "c003", "item_ids": [top], "event_type": "purchase"},
        headers=admin(),
    )
    assert posted.status_code == 202
    assert len(posted.json()["event_ids"]) == 1
    after = client.get("/v1/clients/c003/recommendations", params={"k": 14}).json()
    assert top not in {item["item_id"] for item in after["items"]}


def test_events_validation_names_the_field(client: TestClient, store: RedisOnlineStore) -> None:
    unknown_client = client.post(
        "/v1/events",
        json={"client_id": "ghost", "item_ids": ["backup"], "event_type": "click"},
        headers=admin(),
    )
    assert unknown_client.status_code == 422
    assert "client_id" in str(unknown_client.json()["detail"])
    unknown_item = client.post(
        "/v1/events",
        json={"client_id": "c001", "item_ids": ["ghost"], "event_type": "click"},
        headers=admin(),
    )
    assert unknown_item.status_code == 422
    assert "item_ids" in str(unknown_item.json()["detail"])
    bad_type = client.post(
        "/v1/events",
        json={"client_id": "c001", "item_ids": ["backup"], "event_type": "hug"},
        headers=admin(),
    )
    assert bad_type.status_code == 422
    assert "event_type" in str(bad_type.json()["detail"])
    assert store.redis.xlen(store.keys.events) == 0


def test_catalog_has_the_items_the_tests_use() -> None:
    assert {"course_linux1", "course_linux2", "gov_cloud"} <= set(ITEMS["item_id"])
