"""``echo_safe``: every validation error can be written as JSON, and echoes a short prefix."""

from __future__ import annotations

import json

import pytest

from serving.validation_errors import MAX_ECHO, MAX_MESSAGE, echo_safe, short_echo


def _as_json(value: object) -> str:
    return json.dumps(value, allow_nan=False)  # raises on NaN / Infinity, as the 422 did


@pytest.mark.parametrize(
    ("value", "echo"),
    [
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (2**63, "9223372036854775808"),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (1.5, 1.5),
        (None, None),
        (True, True),
        ("short", "short"),
        ({"k": float("nan")}, {"k": "nan"}),
        ([1, [2, float("inf")]], [1, [2, "inf"]]),
    ],
)
def test_short_values_are_kept_and_non_finite_ones_become_text(value: object, echo: object) -> None:
    assert short_echo(value) == echo
    _as_json(short_echo(value))


@pytest.mark.parametrize(
    "value",
    [
        "x" * 10_000_000,
        10**5000,  # beyond the int-to-text limit: str() raises
        b"b" * 100_000,
        {f"key{n}": n for n in range(100_000)},
        list(range(100_000)),
        {"n" * 100_000: 1},
    ],
    ids=["long text", "huge int", "bytes", "wide dict", "long list", "long key"],
)
def test_long_values_are_cut_to_a_prefix(value: object) -> None:
    echo = short_echo(value)
    assert isinstance(echo, str)
    assert len(echo) <= MAX_ECHO + 3
    _as_json(echo)


def test_deep_nesting_is_cut_without_recursing_to_the_bottom() -> None:
    deep: object = 1
    for _ in range(50_000):  # far past Python's recursion limit
        deep = [deep]
    echo = short_echo(deep)
    assert isinstance(echo, str) and echo.startswith("[[[[")
    assert len(echo) <= MAX_ECHO + 3


def test_errors_drop_ctx_and_cut_loc_msg_and_input() -> None:
    errors = [
        {
            "type": "value_error",
            "loc": ("body", "n" * 1000, 3),
            "msg": "m" * 10_000,
            "input": float("nan"),
            "ctx": {"error": ValueError("not JSON")},
            "url": "https://errors.pydantic.dev/2/v/value_error",
        }
    ]
    (safe,) = echo_safe(errors)
    assert "ctx" not in safe
    assert safe["loc"] == ["body", "n" * MAX_ECHO + "...", 3]
    assert len(str(safe["msg"])) == MAX_MESSAGE + 3
    assert safe["input"] == "nan"
    assert safe["url"] == "https://errors.pydantic.dev/2/v/value_error"
    _as_json(safe)
