"""Experiments through the API: the admin endpoints, assignment in answers, targets, targeting."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy.stats import chisquare

from feature_store.materialize import write_snapshot
from feature_store.redis_store import RedisOnlineStore
from recommender.experiments.assignment import assign
from recommender.experiments.config import Experiment
from serving.app import create_app
from serving.model_source import DirectorySource
from serving.settings import ServingSettings
from tests.serving.ab import experiment, impressions
from tests.serving.conftest import ITEMS, admin, make_frames, manager

URL = "/v1/experiments"
AB = experiment("ab", ("control", "champion", 1.0), ("treatment", "challenger", 1.0))


def _create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(URL, json=body, headers=admin())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _variant(client: TestClient, client_id: str) -> tuple[str | None, str | None]:
    response = client.get(f"/v1/clients/{client_id}/recommendations")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["experiment"], body["variant"]


def test_admin_endpoints_need_the_admin_key(client: TestClient) -> None:
    calls = [
        ("GET", URL, None),
        ("POST", URL, AB),
        ("POST", f"{URL}/ab/end", None),
        ("GET", f"{URL}/ab/report", None),
    ]
    for method, url, body in calls:
        assert client.request(method, url, json=body).status_code == 401, url
        wrong = client.request(method, url, json=body, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401, url
        other = client.request(method, url, json=body, headers=manager("m001"))
        assert other.status_code == 403, url
        assert "admin" in other.json()["detail"]
    assert client.get(URL, headers=admin()).json()["experiments"] == []


def test_create_list_end_and_conflicts(client: TestClient) -> None:
    created = _create(client, AB)
    assert created["experiment"]["status"] == "running"
    assert created["experiment"]["definition"]["salt"] == "ab"
    again = client.post(URL, json=AB, headers=admin())
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    listed = client.get(URL, headers=admin()).json()["experiments"]
    assert [(e["name"], e["status"]) for e in listed] == [("ab", "running")]

    assert _variant(client, "c001")[0] == "ab"
    ended = client.post(f"{URL}/ab/end", headers=admin())
    assert ended.status_code == 200
    assert ended.json()["experiment"]["status"] == "ended"
    assert _variant(client, "c001") == (None, None)
    assert client.post(f"{URL}/nope/end", headers=admin()).status_code == 404
    assert client.get(f"{URL}/nope/report", headers=admin()).status_code == 404
    no_events = client.get(f"{URL}/ab/report", headers=admin())
    assert no_events.status_code == 404
    assert "recsys events flush" in no_events.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variants": [{"name": "a", "target": "not a target!"}, AB["variants"][1]]},
         ["body", "variants", 0, "target"]),
        ({"variants": [{"name": "a", "target": "champion", "weight": -1}, AB["variants"][1]]},
         ["body", "variants", 0, "weight"]),
        ({"variants": [AB["variants"][0]]}, ["body", "variants"]),
        ({"start": None}, ["body", "start"]),
        ({"holdout": 1.5}, ["body", "holdout"]),
        ({"surprise": 1}, ["body", "surprise"]),
        ({"variants": [AB["variants"][0], {"name": "b", "target": "baseline:magic"}]},
         ["body", "variants", 1, "target"]),
        ({"variants": [AB["variants"][0], {"name": "fallback", "target": "challenger"}]},
         ["body", "variants", 1, "name"]),
    ],
)  # fmt: skip
def test_a_bad_definition_is_a_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: list[Any]
) -> None:
    response = client.post(URL, json={**AB, **change}, headers=admin())
    assert response.status_code == 422, response.text
    assert field in [error["loc"] for error in response.json()["detail"]]
    assert client.get(URL, headers=admin()).json()["experiments"] == []


def test_same_client_same_variant_across_requests_and_apps(
    client: TestClient, settings: ServingSettings
) -> None:
    _create(client, AB)
    ids = [f"c{n:03d}" for n in range(60)]
    first = {c: _variant(client, c) for c in ids}
    assert {e for e, _ in first.values()} == {"ab"}
    assert {v for _, v in first.values()} == {"control", "treatment"}
    assert {c: _variant(client, c) for c in ids} == first
    definition = Experiment.model_validate(AB)
    for client_id, (_, variant) in first.items():
        found = assign(definition, client_id)
        assert found is not None and found.variant == variant
    with TestClient(create_app(settings), raise_server_exceptions=False) as fresh:
        assert {c: _variant(fresh, c) for c in ids} == first


def test_an_experiment_created_elsewhere_is_seen_within_the_check_interval(
    settings: ServingSettings,
) -> None:
    with (
        TestClient(create_app(settings)) as one,
        TestClient(create_app(settings)) as two,
    ):
        assert _variant(two, "c001") == (None, None)  # two has read the (absent) file
        _create(one, AB)
        assert _variant(one, "c001")[0] == "ab"
        two.app.state.experiments.refresh()  # what the next check (<= 1 s) does
        assert _variant(two, "c001")[0] == "ab"


@pytest.fixture
def many_clients(store: RedisOnlineStore) -> list[str]:
    clients, events = make_frames(n_clients=2000)
    write_snapshot(store, clients, ITEMS, events[["client_id", "item_id"]])
    return [str(c) for c in clients["client_id"]]


def test_weights_are_respected(client: TestClient, many_clients: list[str]) -> None:
    weights = {"control": 0.2, "challenger": 0.3, "popular": 0.5}
    _create(
        client,
        experiment(
            "weights",
            ("control", "champion", weights["control"]),
            ("challenger", "challenger", weights["challenger"]),
            ("popular", "baseline:popularity", weights["popular"]),
        ),
    )
    counts = Counter(_variant(client, c)[1] for c in many_clients)
    assert set(counts) == set(weights)
    observed = [counts[v] for v in weights]
    expected = [w * len(many_clients) for w in weights.values()]
    assert chisquare(observed, expected).pvalue > 0.001


def test_targeting_by_segment_and_industry(client: TestClient) -> None:
    # c002 government (B2G); c000 healthcare, c001 finance, c003 education (B2B)
    _create(client, experiment("b2g", ("a", "champion", 1), ("b", "challenger", 1),
                               targeting={"segments": ["B2G"]}))  # fmt: skip
    _create(client, experiment("fin", ("a", "champion", 1), ("b", "challenger", 1),
                               targeting={"industries": ["finance"]}))  # fmt: skip
    assert [_variant(client, c)[0] for c in ("c000", "c001", "c002", "c003")] == [
        None, "fin", "b2g", None,
    ]  # fmt: skip
    cold = client.post(
        "/v1/recommendations",
        json={"client_id": "new-1", "features": {"segment": "B2G", "industry": "government"}},
    ).json()
    assert cold["experiment"] == "b2g" and cold["client_id"] == "new-1"
    anonymous = client.post("/v1/recommendations", json={"features": {"segment": "B2G"}}).json()
    assert anonymous["experiment"] is None and anonymous["variant"] is None


def test_cold_start_with_an_id_is_assigned_like_a_known_client(client: TestClient) -> None:
    _create(client, AB)
    for client_id in ("c004", "c005", "c006", "c007"):
        cold = client.post(
            "/v1/recommendations", json={"client_id": client_id, "features": {"segment": "B2B"}}
        )
        assert cold.status_code == 200
        assert (cold.json()["experiment"], cold.json()["variant"]) == _variant(client, client_id)


def test_baselines_rank_by_popularity_rows(settings: ServingSettings) -> None:
    unboosted = settings.model_copy(update={"margin_boost": 0.0, "loyalty_boost": 0.0})
    with TestClient(create_app(unboosted)) as client:
        _baselines_rank_by_popularity(client)


def _baselines_rank_by_popularity(client: TestClient) -> None:
    _create(
        client,
        experiment(
            "base", ("seg", "baseline:segment_popularity", 1), ("all", "baseline:popularity", 1)
        ),
    )
    model = client.app.state.holder.current  # type: ignore[attr-defined]
    seen = set()
    for n in range(12):
        client_id = f"c{n:03d}"
        body = client.get(f"/v1/clients/{client_id}/recommendations", params={"k": 14}).json()
        seen.add(body["variant"])
        assert body["source"] == "popularity"
        assert body["model_version"] == model.label
        segment = "B2G" if n % 4 == 2 else "B2B"
        row = f"segment={segment}" if body["variant"] == "seg" else "all"
        scores = model.scorer.popularity_scores((row,))
        ranked = [model.item_index[i["item_id"]] for i in body["items"]]
        assert [scores[i] for i in ranked] == sorted((scores[i] for i in ranked), reverse=True)
    assert seen == {"seg", "all"}


class _Refusing(DirectorySource):
    """A directory source without a 'challenger' alias."""

    def load(self, alias: str) -> Any:
        if alias == "challenger":
            raise FileNotFoundError("no challenger here")
        return super().load(alias)


@pytest.fixture
def refusing(settings: ServingSettings) -> Iterator[TestClient]:
    app = create_app(settings)
    assert settings.model_dir is not None
    app.state.holder.source = _Refusing(settings.model_dir)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_target_that_is_not_loaded_is_served_by_the_champion_as_fallback(
    refusing: TestClient, store: RedisOnlineStore, caplog: pytest.LogCaptureFixture
) -> None:
    _create(
        refusing, experiment("all-in", ("treatment", "challenger", 1), ("other", "challenger", 1))
    )
    with caplog.at_level(logging.WARNING, logger="serving.experiments"):
        body = refusing.get("/v1/clients/c001/recommendations").json()
        refusing.get("/v1/clients/c002/recommendations")
    assert (body["experiment"], body["variant"]) == ("all-in", "fallback")
    assert body["model_version"] == refusing.app.state.holder.current.label  # type: ignore[attr-defined]
    warnings = [r for r in caplog.records if "not loaded" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited
    logged = impressions(store, len(body["items"]))
    assert {r.variant for r in logged} == {"fallback"}


def test_a_loaded_challenger_answers_its_variant(client: TestClient) -> None:
    _create(client, AB)
    holder = client.app.state.holder  # type: ignore[attr-defined]
    assert holder.get("challenger") is not None
    assert "challenger" in [
        m["alias"] for m in client.get("/v1/models", headers=admin()).json()["models"]
    ]
    for n in range(20):
        response = client.get(f"/v1/clients/c{n:03d}/recommendations")
        body = response.json()
        used = holder.get("challenger" if body["variant"] == "treatment" else "champion")
        assert body["model_version"] == used.label == response.headers["X-Model-Version"]
        assert body["items"]
