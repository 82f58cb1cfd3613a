"""Hostile input gets a 4xx that names the field, never a 500, and never a long echo.

One test per input a red-team run found answering 500 or accepted when it should not be
(issue 14): an over-long ``k`` in the cabinet's own query parsing, non-finite numbers that the
422 handler could not echo, a timestamp whose conversion to UTC overflows, integers the event
store cannot hold, timestamps outside the sane range, and huge invalid values echoed whole.
The body-size limit has its own file (``test_body_limit.py``).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from recommender.bounds import EARLIEST_TIMESTAMP, MAX_POSITION
from serving.validation_errors import MAX_ECHO
from tests.serving.conftest import admin

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]


def _post_raw(client: TestClient, path: str, text: str) -> Response:
    """POST ``text`` as a JSON body as is (``json=`` would refuse NaN and Infinity)."""
    headers = {**admin(), "Content-Type": "application/json"}
    return client.post(path, content=text.encode(), headers=headers)


def _field_error(response: Response, loc: list[object]) -> dict[str, object]:
    """The one error of a 422 at ``loc``, whose echoed input is short."""
    assert response.status_code == 422, response.text[:500]
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    found = [e for e in errors if e["loc"] == loc]
    assert found, errors
    echoed = found[0].get("input")
    assert len(json.dumps(echoed)) <= MAX_ECHO + 8, echoed  # a prefix at most, quoted
    return dict(found[0])


def _event(**fields: object) -> str:
    event: dict[str, object] = {
        "client_id": "c000",
        "item_ids": ["backup"],
        "event_type": "impression",
    }
    event.update(fields)
    return json.dumps(event, allow_nan=True)


# --- the cabinet's own query parsing -----------------------------------------------------


@pytest.mark.parametrize("digits", [4300, 4301, 10_000])
def test_cabinet_k_of_thousands_of_digits_is_a_422_on_k(client: TestClient, digits: int) -> None:
    response = client.get(f"/v1/clients/c000/recommendations?k={'9' * digits}")
    _field_error(response, ["query", "k"])


# --- non-finite and huge numbers -----------------------------------------------------------


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_cold_start_k_not_finite_is_a_422_on_k(client: TestClient, number: str) -> None:
    body = f'{{"features": {{"segment": "B2B"}}, "k": {number}}}'
    _field_error(_post_raw(client, "/v1/recommendations", body), ["body", "k"])


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_event_value_not_finite_is_a_422_on_value(client: TestClient, number: str) -> None:
    body = _event(event_type="purchase").replace("}", f', "value": {number}}}')
    _field_error(_post_raw(client, "/v1/events", body), ["body", "event", "value"])


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_event_propensity_not_finite_is_a_422_on_it(client: TestClient, number: str) -> None:
    body = _event().replace("}", f', "propensities": [{number}]}}')
    _field_error(_post_raw(client, "/v1/events", body), ["body", "event", "propensities", 0])


def test_non_finite_numbers_inside_a_batch_name_their_event(client: TestClient) -> None:
    body = f"[{_event()}, {_event(positions=[0]).replace('[0]', '[NaN]')}]"
    _field_error(_post_raw(client, "/v1/events", body), ["body", "batch", 1, "positions", 0])


@pytest.mark.parametrize("position", [2**70, 2**63, MAX_POSITION + 1, -1])
def test_event_position_out_of_range_is_refused(client: TestClient, position: int) -> None:
    response = _post_raw(client, "/v1/events", _event(positions=[position]))
    _field_error(response, ["body", "event", "positions", 0])


@pytest.mark.parametrize("value", [1e300, -1.0])
def test_event_value_out_of_range_is_refused(client: TestClient, value: float) -> None:
    response = _post_raw(client, "/v1/events", _event(event_type="purchase", value=value))
    _field_error(response, ["body", "event", "value"])


def test_a_position_in_range_is_still_accepted(client: TestClient) -> None:
    response = _post_raw(client, "/v1/events", _event(positions=[MAX_POSITION]))
    assert response.status_code == 202, response.text


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+14:00",  # converting to UTC overflows
        "9999-12-31T23:59:59-14:00",  # and the other way
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",  # epoch 0
        "1989-12-31T23:59:59Z",
        "2999-01-01T00:00:00Z",
    ],
)
def test_event_timestamp_out_of_range_is_a_422_on_timestamp(client: TestClient, stamp: str) -> None:
    response = _post_raw(client, "/v1/events", _event(timestamp=stamp))
    error = _field_error(response, ["body", "event", "timestamp"])
    assert "timestamp" in str(error["msg"])


def test_the_earliest_timestamp_is_accepted(client: TestClient) -> None:
    stamp = EARLIEST_TIMESTAMP.isoformat()
    response = _post_raw(client, "/v1/events", _event(timestamp=stamp))
    assert response.status_code == 202, response.text


# --- ids and long values: refused, and echoed as a short prefix ------------------------------


def test_an_item_id_longer_than_an_id_is_refused(client: TestClient) -> None:
    response = _post_raw(client, "/v1/events", _event(item_ids=["x" * 10_000]))
    _field_error(response, ["body", "event", "item_ids", 0])


def test_an_owned_offer_id_longer_than_an_id_is_refused(client: TestClient) -> None:
    body = {"features": {"segment": "B2B"}, "owned": ["y" * 10_000]}
    response = client.post("/v1/recommendations", json=body)
    _field_error(response, ["body", "owned", 0])


def test_a_huge_invalid_field_is_echoed_as_a_short_prefix(client: TestClient) -> None:
    huge = "z" * 500_000
    response = client.post("/v1/recommendations", json={"features": {"industry": huge}})
    error = _field_error(response, ["body", "features", "industry"])
    assert str(error["input"]).startswith("zzzz")
    assert len(response.content) < 2_000


def test_a_huge_unknown_field_name_is_echoed_as_a_short_prefix(client: TestClient) -> None:
    name = "n" * 100_000
    response = client.post("/v1/recommendations", json={name: 1})
    assert response.status_code == 422
    assert len(response.content) < 2_000
