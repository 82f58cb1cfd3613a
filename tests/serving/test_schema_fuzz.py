"""No input gives a 500: schemathesis explores every operation of the OpenAPI schema.

Both valid (positive) and schema-violating (negative) inputs, with the admin key and without,
a bounded number of examples per operation.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.serving.conftest import admin

EXAMPLES = 15


def test_no_server_error_for_any_input(client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                for headers in (admin(), {}):
                    response = case.call(headers=headers)
                    assert response.status_code < 500, (
                        case.method,
                        case.formatted_path,
                        response.status_code,
                        response.text[:300],
                    )

            try:
                check()
            except Unsatisfiable:  # nothing to break: e.g. an operation without inputs
                assert mode is GenerationMode.NEGATIVE, operation.label
