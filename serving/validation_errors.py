"""Validation errors made safe to send back: JSON-valid, and echoing only a short prefix.

pydantic's errors carry the offending ``input``, which may be anything the caller sent: NaN or
Infinity (valid Python, invalid JSON: the 422 answer itself failed with a 500), an integer of
thousands of digits, a 10 MB string, or the whole body. ``echo_safe`` keeps what helps the
caller (the field's ``loc``, the ``msg``, a short input) and cuts the rest to ``MAX_ECHO``
characters.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Longest echo of an input (or a ``loc`` part): longer ones are cut and end with "...".
MAX_ECHO = 64
#: Longest ``msg`` (a validator's own message may quote its input).
MAX_MESSAGE = 256
#: Integers beyond int64 are echoed as text (JSON readers lose precision above 2**53 anyway).
_INT64 = 2**63

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def echo_safe(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, JsonValue]]:
    """pydantic / FastAPI errors without ``ctx``, each part JSON-valid and short."""
    safe: list[dict[str, JsonValue]] = []
    for error in errors:
        out: dict[str, JsonValue] = {}
        for key, value in error.items():
            if key == "ctx":  # the constraint's values; the message already states them
                continue
            if key == "loc":
                out[key] = [part if isinstance(part, int) else _cut(str(part)) for part in value]
            elif key == "msg":
                out[key] = _cut(str(value), MAX_MESSAGE)
            elif key == "input":
                out[key] = short_echo(value)
            else:
                out[key] = _cut(str(value), MAX_MESSAGE)
        safe.append(out)
    return safe


def short_echo(value: Any) -> JsonValue:
    """``value`` as JSON, if that is short and valid; else the first ``MAX_ECHO`` characters."""
    scalar = _scalar(value)
    if scalar is not _NOT_SCALAR:
        return scalar
    plain = _plain(value)
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    return plain if len(text) <= MAX_ECHO else _cut(text)


_NOT_SCALAR = object()


def _scalar(value: Any) -> Any:
    """The short JSON form of a scalar, or ``_NOT_SCALAR`` for containers and the rest."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else _cut(_int_text(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # "nan", "inf", "-inf"
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, bytes | bytearray):
        return _cut(bytes(value[: MAX_ECHO + 1]).decode("utf-8", "replace"))
    if isinstance(value, Mapping | list | tuple):
        return _NOT_SCALAR
    return _cut(str(value))


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-valid copy of the start of ``value``: enough to fill ``MAX_ECHO`` characters.

    Containers are recursed to a bounded depth and width (each element takes at least one
    character), so a deeply nested or a huge input costs no more than a short one.
    """
    if depth > MAX_ECHO // 2:
        return "..."
    if isinstance(value, Mapping):
        items = itertools.islice(value.items(), MAX_ECHO)
        return {_cut(str(k)): _plain(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in itertools.islice(value, MAX_ECHO)]
    return _scalar(value)


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # beyond Python's int-to-text limit (4,300 digits)
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"


def _cut(text: str, limit: int = MAX_ECHO) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
