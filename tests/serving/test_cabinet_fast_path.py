"""The cabinet's lean path answers exactly like the validating FastAPI path it falls back to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from feature_store.redis_store import RedisOnlineStore
from recommender.domain import ItemKind
from serving.app import create_app
from serving.routers.cabinet import parse_plain
from serving.settings import ServingSettings
from serving.store_gateway import StoreGateway
from tests.feature_store.redis_server import RedisServer
from tests.serving.conftest import admin, make_settings, manager

URL = "/v1/clients/c001/recommendations"


def _body(client: TestClient, params: dict[str, Any] | list[tuple[str, str]]) -> dict[str, Any]:
    response = client.get(URL, params=params, headers={"X-Request-ID": "same"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("plain", "unusual"),
    [
        ({"k": "5"}, {"k": "05"}),  # leading zero: FastAPI's validation path
        ({"k": "3", "explain": "true"}, {"k": "3", "explain": "yes"}),
        ({"explain": "false"}, {"explain": "off"}),
        ([("kind", "course"), ("kind", "addon")], [("kind", "course"), ("kind", "addon")]),
        ({}, {"k": "10", "extra": "ignored"}),
    ],
)
def test_both_paths_give_the_same_answer(
    client: TestClient, plain: dict[str, str], unusual: dict[str, str]
) -> None:
    assert _body(client, plain) == _body(client, unusual)


def test_bad_input_is_fastapis_422(client: TestClient) -> None:
    for params in ({"k": "0"}, {"k": "1001"}, {"k": "101"}, {"k": "-1"}, {"k": ""},
                   {"kind": "boat"}, {"explain": "maybe"}, {"k": ["1", "x"]}):  # fmt: skip
        response = client.get(URL, params=params)
        assert response.status_code == 422, params
        body = response.json()
        assert body["request_id"] and body["model_version"].startswith("als:")
    too_long = client.get(f"/v1/clients/{'x' * 129}/recommendations")
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["path", "client_id"]


def test_metrics_count_the_route_template(client: TestClient) -> None:
    client.get(URL)
    client.get("/v1/clients/c002/recommendations", params={"k": "0"})
    text = client.get("/metrics").text
    route = 'route="/v1/clients/{client_id}/recommendations"'
    assert f'recsys_http_requests_total{{method="GET",{route},status="200"}}' in text
    assert f'recsys_http_requests_total{{method="GET",{route},status="422"}}' in text
    assert "c001" not in text


@pytest.fixture
def locked(
    model_dir: Path, redis_server: RedisServer, tmp_path: Path, store: RedisOnlineStore
) -> ServingSettings:
    return make_settings(model_dir, redis_server.url, tmp_path, cabinet_key="cabinet-key")


def test_cabinet_key_is_checked_on_the_lean_path(locked: ServingSettings) -> None:
    with TestClient(create_app(locked), raise_server_exceptions=False) as client:
        assert client.get(URL).status_code == 401
        assert client.get(URL, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get(URL, headers={"X-API-Key": "cabinet-key"}).status_code == 200
        assert client.get(URL, headers=admin()).status_code == 200
        # c001 belongs to m002 (odd clients)
        assert client.get(URL, headers=manager("m002")).status_code == 200
        other = client.get(URL, headers=manager("m001"))
        assert other.status_code == 403
        assert "not in this manager's portfolio" in other.json()["detail"]


def test_concurrent_reads_share_one_round_trip(store: RedisOnlineStore) -> None:
    gateway = StoreGateway(store)
    batches: list[list[str]] = []
    read = gateway.client_states

    def counting(client_ids: Sequence[str]) -> Any:
        batches.append(list(client_ids))
        return read(client_ids)

    gateway.client_states = counting  # type: ignore[method-assign]

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(gateway.client_state_soon(c) for c in ("c001", "c002", "nobody", "c001"))
        )

    states = asyncio.run(main())
    assert batches == [["c001", "c002", "nobody", "c001"]]
    assert states[0] == states[3] == store.get_client_state("c001")
    assert states[1] == store.get_client_state("c002")
    assert not states[2][0].present
    assert asyncio.run(StoreGateway(None).client_state_soon("c001")) is None


def test_a_failing_batch_fails_every_waiting_request(store: RedisOnlineStore) -> None:
    gateway = StoreGateway(store)

    def broken(client_ids: Sequence[str]) -> Any:
        raise RuntimeError("bug")

    gateway.client_states = broken  # type: ignore[method-assign]

    async def main() -> list[Any]:
        reads = (gateway.client_state_soon(c) for c in ("c001", "c002"))
        return await asyncio.gather(*reads, return_exceptions=True)

    assert [str(e) for e in asyncio.run(main())] == ["bug", "bug"]


def test_the_lean_path_takes_only_the_usual_form() -> None:
    def parsed(query: str) -> object:
        scope = {"type": "http", "path_params": {"client_id": "c1"}, "headers": []}
        return parse_plain(Request({**scope, "query_string": query.encode()}))

    assert parsed("") == ("c1", None, None, False)
    assert parsed("k=5&kind=course&kind=addon&explain=true&x=1") == (
        "c1", 5, [ItemKind.COURSE, ItemKind.ADDON], True,
    )  # fmt: skip
    unusual = ("k=05", "k=5&k=6", "k=1001", "k=", "k=%2B5", "explain=yes", "kind=boat",
               "explain=true&explain=false")  # fmt: skip
    for query in unusual:
        assert parsed(query) is None, query
