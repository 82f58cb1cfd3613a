"""Every error answer has one shape (detail, request_id, model_version) and the two headers.

Covers what routing and the server answer themselves: unhandled exceptions (500), unknown
routes (404), wrong methods (405); the metric labels of such requests; where a 422 points;
and the status codes the OpenAPI schema documents.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from serving.model_holder import ModelHolder
from tests.serving.conftest import admin


def _assert_error_shape(response: object) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "request_id", "model_version"}
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["model_version"] == response.headers["X-Model-Version"]
    assert body["model_version"] != "none"
    return dict(body)


def _metric_lines(client: TestClient) -> list[str]:
    text = generate_latest(client.app.state.metrics.registry).decode()  # type: ignore[attr-defined]
    return [line for line in text.splitlines() if line.startswith("recsys_http_requests_total")]


# --- 1. unhandled exceptions -------------------------------------------------------------


def test_an_unhandled_exception_answers_a_json_500_with_the_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    holder: ModelHolder = client.app.state.holder  # type: ignore[attr-defined]

    def broken() -> list[object]:
        raise RuntimeError("secret internals: disk on fire")

    monkeypatch.setattr(holder, "models", broken)
    caplog.set_level(logging.ERROR)
    response = client.get("/v1/models", headers={**admin(), "X-Request-ID": "req-boom-1"})

    assert response.status_code == 500
    body = _assert_error_shape(response)
    assert body["request_id"] == "req-boom-1"
    assert "req-boom-1" in str(body["detail"])
    assert "disk on fire" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # logged once, with the request id and the stack trace
    records = [r for r in caplog.records if "req-boom-1" in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert "disk on fire" in caplog.text
    monkeypatch.undo()  # the metrics scrape reads holder.models() too
    assert 'recsys_http_requests_total{method="GET",route="/v1/models",status="500"} 1.0' in (
        _metric_lines(client)
    )


def test_an_exception_in_a_dependency_answers_the_same_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    # the CabinetDep dependency calls keys.cabinet(principal)
    monkeypatch.setattr(client.app.state.keys, "cabinet", broken)  # type: ignore[attr-defined]
    response = client.post("/v1/recommendations", json={"features": {"segment": "B2B"}})
    assert response.status_code == 500
    _assert_error_shape(response)
    assert "boom" not in response.text


# --- 2. routing's own 404 and 405 --------------------------------------------------------


def test_an_unknown_route_answers_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404
    body = _assert_error_shape(response)
    assert body["detail"] == "no route GET /v1/nope; see /docs"


def test_a_wrong_method_answers_the_error_shape_and_keeps_allow(client: TestClient) -> None:
    response = client.delete("/v1/models", headers=admin())
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    body = _assert_error_shape(response)
    assert "DELETE" in str(body["detail"]) and "/v1/models" in str(body["detail"])
    assert "GET" in str(body["detail"])


def test_route_errors_keep_their_own_message_and_headers(client: TestClient) -> None:
    unknown = client.get("/v1/items/no-such-offer/similar")
    assert unknown.status_code == 404
    assert _assert_error_shape(unknown)["detail"] == "unknown offer 'no-such-offer'"

    unauthorized = client.get("/v1/models")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["WWW-Authenticate"] == "X-API-Key"
    _assert_error_shape(unauthorized)


# --- 3. metric labels ----------------------------------------------------------------------


def test_metrics_bound_the_method_label(client: TestClient) -> None:
    for method in ("FOO", "PROPFIND", "X" * 40):
        client.request(method, "/v1/models", headers=admin())
    client.request("OPTIONS", "/v1/models", headers=admin())
    lines = _metric_lines(client)
    assert 'recsys_http_requests_total{method="OTHER",route="/v1/models",status="405"} 3.0' in (
        lines
    )
    assert any('method="OPTIONS"' in line for line in lines)
    assert not any("FOO" in line or "PROPFIND" in line for line in lines)


def test_metrics_label_built_in_and_mounted_routes_by_template(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/static/web/app.css").status_code == 200
    assert client.get("/v1/nope").status_code == 404
    lines = _metric_lines(client)
    assert 'recsys_http_requests_total{method="GET",route="/openapi.json",status="200"} 1.0' in (
        lines
    )
    assert 'recsys_http_requests_total{method="GET",route="/docs",status="200"} 1.0' in lines
    assert (
        'recsys_http_requests_total{method="GET",route="/static/web/{path}",status="200"} 1.0'
        in lines
    )
    unmatched = [line for line in lines if 'route="unmatched"' in line]
    assert unmatched == [
        'recsys_http_requests_total{method="GET",route="unmatched",status="404"} 1.0'
    ]


# --- 4. where a 422 points ---------------------------------------------------------------


def test_cold_start_k_above_max_k_points_at_the_body(client: TestClient) -> None:
    response = client.post("/v1/recommendations", json={"features": {"segment": "B2B"}, "k": 500})
    assert response.status_code == 422
    detail = _assert_error_shape(response)["detail"]
    assert isinstance(detail, list)
    assert detail[0]["loc"] == ["body", "k"]
    assert detail[0]["input"] == 500


def test_query_k_above_max_k_still_points_at_the_query(client: TestClient) -> None:
    response = client.get("/v1/items/backup/similar", params={"k": 500})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "k"]


# --- 5. documented status codes ----------------------------------------------------------

DOCUMENTED = {
    ("post", "/v1/admin/reload"): {"401", "403", "404", "409", "422"},
    ("get", "/v1/models"): {"401", "403"},
    ("post", "/v1/recommendations"): {"401", "422", "503"},
    ("get", "/v1/items/{item_id}/similar"): {"401", "404", "422", "503"},
    ("get", "/readyz"): {"503"},
    ("post", "/v1/events"): {"401", "403", "413", "422", "503"},
}


@pytest.mark.parametrize(("method", "path"), sorted(DOCUMENTED))
def test_openapi_documents_the_error_codes(client: TestClient, method: str, path: str) -> None:
    operation = client.get("/openapi.json").json()["paths"][path][method]
    assert DOCUMENTED[method, path] <= set(operation["responses"])


def test_reload_of_an_unknown_alias_is_a_documented_404(client: TestClient) -> None:
    response = client.post("/v1/admin/reload", json={"alias": "nope"}, headers=admin())
    assert response.status_code == 404
    _assert_error_shape(response)
    operation = client.get("/openapi.json").json()["paths"]["/v1/admin/reload"]["post"]
    schema = operation["responses"]["404"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
