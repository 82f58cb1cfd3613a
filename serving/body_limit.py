"""A request body over ``ServingSettings.max_body_bytes`` gets 413 before anything reads it.

FastAPI reads and parses the whole body before a route's dependencies run, so without a
limit a 38 MB body without an API key was read before the 401, and a 10 MB invalid field came
back whole in the 422. ``BodyLimitMiddleware`` refuses:

- a declared ``Content-Length`` over the limit at once: the app is not called, no byte of the
  body is read;
- a body without one (chunked) as soon as the bytes received pass the limit: reading it raises
  ``BodyTooLargeError``, an ``HTTPException`` that FastAPI re-raises as is, so the app's own
  handler answers it in the usual error shape (and so does this middleware if it gets here).

The 413 says ``Connection: close``: the rest of the body is never read, so the connection
cannot carry another request.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TooLargeResponder = Callable[[Request, "BodyTooLargeError"], Response]


class BodyTooLargeError(HTTPException):
    """The request body is longer than ``limit`` bytes (status 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail=f"request body is over the limit of {limit:,} bytes "
            "(RECSYS_MAX_BODY_BYTES); it was not read; send a smaller batch",
            headers={"Connection": "close"},
        )
        self.limit = limit


class BodyLimitMiddleware:
    """Answers 413 (through ``on_too_large``) for a body over ``max_bytes``; see the module."""

    def __init__(self, app: ASGIApp, max_bytes: int, on_too_large: TooLargeResponder) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_too_large = on_too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.on_too_large(Request(scope, receive), BodyTooLargeError(self.max_bytes))
        await response(scope, receive, send)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` as a number; ``None`` when absent or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None
    return None
