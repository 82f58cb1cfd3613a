"""No input gives a 500, and answers match the schema: schemathesis explores every operation.

Both valid (positive) and schema-violating (negative) inputs, a bounded number of examples per
operation, in three setups: the default one (cabinet open, no exploration), one with a cabinet
key (sent by the cabinet, a manager, the admin and nobody) and one with exploration on. Every
answer must be below 500 and, where its status is documented, match the documented schema.

Schemathesis sends JSON that Python's ``json.dumps`` writes, so it never tries what broke the
service in issue 14: non-finite numbers (``NaN``, ``Infinity``, ``1e400``), integers beyond
int64 or beyond Python's 4,300-digit parsing limit, timestamps whose conversion to UTC
overflows or that lie outside the sane range, and values of 100,000 characters. The hostile
pass takes each operation's valid cases and puts one such value (``HOSTILE``) in one place: a
body field (existing or one of ``HOSTILE_FIELDS``), a query parameter or a path parameter. Its
answers must be below 500 and, if an error, short (``MAX_ERROR_BYTES``). The request count and
the 5xx count of every pass are printed (``pytest -s``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import admin, manager

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

CABINET_KEY = "cabinet-fuzz-key"

#: Answers known not to match their documented schema: (method, path template, status) -> why.
#: Each is a bug to fix in the route named; the entry goes when the route is fixed.
KNOWN_NONCONFORMING: dict[tuple[str, str, int], str] = {}


@dataclass(frozen=True)
class Setup:
    name: str
    update: dict[str, object]
    headers: tuple[dict[str, str], ...]
    examples: int  # per operation and generation mode


SETUPS = [
    Setup("default", {}, (admin(), {}), 15),
    Setup(
        "cabinet_key",
        {"cabinet_key": SecretStr(CABINET_KEY)},
        ({"X-API-Key": CABINET_KEY}, manager("m001"), admin(), {}),
        4,
    ),
    Setup("exploration", {"exploration_epsilon": 0.3, "log_all_exposures": True}, (admin(), {}), 4),
]


@dataclass(frozen=True)
class Raw:
    """A JSON literal sent as is: ``NaN``, ``Infinity``, ``1e400``, an integer of 4,301 digits."""

    text: str


#: Values that broke the service or its stores (issue 14), or are close to what did.
HOSTILE: tuple[object, ...] = (
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e400"),
    Raw("-1e400"),
    Raw("9" * 4301),  # beyond Python's int-from-text limit
    2**63,
    2**70,
    -(2**63) - 1,
    10**1000,
    1e308,
    "9" * 4301,
    "0001-01-01T00:00:00+14:00",  # converting to UTC overflows
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2999-01-01T00:00:00Z",
    "x" * 100_000,
    [Raw("NaN")],
    [2**70],
    ["y" * 10_000],
)
#: Body fields a hostile value is also put in (when the case does not have them already).
HOSTILE_FIELDS = ("k", "value", "timestamp", "positions", "propensities", "owned", "item_ids")
#: The longest value put in a URL (clients and servers refuse URLs of 64 KiB and more).
MAX_URL_VALUE = 8000
#: The longest error answer: an echo of the input is cut to a short prefix.
MAX_ERROR_BYTES = 4096

Path_ = tuple[str | int, ...]


def dumps(value: object) -> str:
    """JSON text of ``value`` with each ``Raw`` written as its literal."""
    raws: list[str] = []

    def mark(item: object) -> object:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\u0000raw{len(raws) - 1}\u0000"
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value))
    for n, literal in enumerate(raws):
        text = text.replace(json.dumps(f"\u0000raw{n}\u0000"), literal)
    return text


def as_query(value: object, limit: int) -> str | list[str]:
    """``value`` as a query-string value (a list: the parameter repeated), cut to ``limit``."""
    if isinstance(value, list):
        return [str(as_query(v, limit)) for v in value]
    return (value.text if isinstance(value, Raw) else str(value))[:limit]


def leaves(value: Any, path: Path_ = ()) -> list[Path_]:
    """Paths to every scalar inside a JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for n, v in enumerate(value) for p in leaves(v, (*path, n))]
    return [path]


def replaced(value: Any, path: Path_, new: object) -> Any:
    """A copy of ``value`` with the element at ``path`` set to ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value.get(head), rest, new)}
    copy = list(value)
    copy[int(head)] = replaced(copy[int(head)], rest, new)
    return copy


@dataclass
class Tally:
    """Requests sent and answers of 500 and above, per pass."""

    sent: Counter[str]
    errors: Counter[str]

    def count(self, name: str, status: int) -> None:
        self.sent[name] += 1
        self.errors[name] += status >= 500

    def report(self, setup: str) -> str:
        return "; ".join(
            f"{setup}/{name}: {self.sent[name]} requests, {self.errors[name]} 5xx"
            for name in sorted(self.sent)
        )


@pytest.fixture(params=SETUPS, ids=[s.name for s in SETUPS])
def fuzzed(
    request: pytest.FixtureRequest, settings: ServingSettings, churn_dir: Path
) -> Iterator[tuple[TestClient, Setup]]:
    setup: Setup = request.param
    configured = settings.model_copy(update={**setup.update, "churn_model_dir": churn_dir})
    with TestClient(create_app(configured), raise_server_exceptions=False) as test_client:
        yield test_client, setup


def test_no_server_error_for_any_input(fuzzed: tuple[TestClient, Setup]) -> None:
    client, setup = fuzzed
    for name, value in setup.update.items():  # the setup is the one asked for
        assert getattr(client.app.state.settings, name) == value  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the schema itself is valid
        operations.append(result.ok())
    assert len(operations) >= 9
    tally = Tally(Counter(), Counter())
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=setup.examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                for headers in setup.headers:
                    response = case.call(headers=headers)
                    tally.count(mode.value, response.status_code)  # noqa: B023 (called at once)
                    assert response.status_code < 500, (
                        setup.name,
                        case.method,
                        case.formatted_path,
                        response.status_code,
                        response.text[:300],
                    )
                    known = (case.method, case.operation.path, response.status_code)
                    if known not in KNOWN_NONCONFORMING:
                        case.validate_response(response, checks=[response_schema_conformance])

            try:
                check()
            except Unsatisfiable:  # nothing to break: e.g. an operation without inputs
                assert mode is GenerationMode.NEGATIVE, operation.label
        hostile_pass(client, setup, operation, tally)
    print(tally.report(setup.name))
    assert sum(tally.errors.values()) == 0


def hostile_pass(client: TestClient, setup: Setup, operation: Any, tally: Tally) -> None:
    """Valid cases of ``operation`` with one ``HOSTILE`` value each; see the module."""
    query_names = [p.name for p in operation.query]
    path_names = [p.name for p in operation.path_parameters]

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    @settings(
        max_examples=setup.examples * 2,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case, data: st.DataObject) -> None:
        body, query = case.body, dict(case.query or {})
        paths = dict(case.path_parameters or {})
        targets: list[tuple[str, Path_]] = [("query", (n,)) for n in query_names]
        targets += [("path", (n,)) for n in path_names]
        if isinstance(body, dict | list):
            targets += [("body", p) for p in leaves(body) if p]
            records = [()] if isinstance(body, dict) else [(n,) for n in range(len(body))]
            targets += [("body", (*r, f)) for r in records for f in HOSTILE_FIELDS]
        if not targets:
            return
        where, path = data.draw(st.sampled_from(targets), label="where")
        value = HOSTILE[data.draw(st.integers(0, len(HOSTILE) - 1), label="HOSTILE[n]")]
        content = None
        if where == "query":
            query[str(path[0])] = as_query(value, MAX_URL_VALUE)
        elif where == "path":
            paths[str(path[0])] = quote(str(as_query(value, MAX_URL_VALUE)), safe="")
        else:
            body = replaced(body, path, value)
        if isinstance(body, dict | list):
            content = dumps(body).encode()
        url = operation.path.format(**paths) if paths else operation.path
        for headers in setup.headers:
            response = client.request(
                case.method,
                url,
                params=query,
                content=content,
                headers={**headers, "Content-Type": "application/json"} if content else headers,
            )
            tally.count("hostile", response.status_code)
            label = (setup.name, case.method, operation.path, where, path, dumps(value)[:40])
            assert response.status_code < 500, (*label, response.text[:300])
            if response.status_code >= 400:
                assert len(response.content) <= MAX_ERROR_BYTES, (*label, len(response.content))

    check()


#: Where a poison value in an otherwise valid event would reach the event log and its Parquet.
EVENT_FIELDS: tuple[Path_, ...] = (
    ("value",),
    ("timestamp",),
    ("positions", 0),
    ("propensities", 0),
    ("item_ids", 0),
)


def test_no_hostile_value_in_a_valid_event_is_accepted(client: TestClient) -> None:
    """Each ``HOSTILE`` value in each field of a valid event, alone and in a batch: refused.

    A 202 would put it in the stream, where it stopped the flusher for good (issue 14).
    """
    event = {
        "client_id": "c000",
        "item_ids": ["backup"],
        "event_type": "impression",
        "positions": [0],
        "propensities": [0.5],
    }
    headers = {**admin(), "Content-Type": "application/json"}
    assert client.post("/v1/events", json=event, headers=headers).status_code == 202
    tally = Tally(Counter(), Counter())
    for path in EVENT_FIELDS:
        for value in HOSTILE:
            bad = replaced(event, path, value)
            for body in (bad, [event, bad]):
                response = client.post("/v1/events", content=dumps(body), headers=headers)
                tally.count("event fields", response.status_code)
                assert response.status_code in (400, 422), (path, dumps(value)[:40], response.text)
                assert len(response.content) <= MAX_ERROR_BYTES
    print(tally.report("default"))
