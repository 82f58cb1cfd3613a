"""Browser-facing security headers on every answer, and a Content-Security-Policy on pages.

- Every answer: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (no page may be
  framed: no clickjacking of the logout or filter forms) and ``Referrer-Policy: same-origin``
  (the Referer, the fallback of the pages' Origin check, never leaves the site).
- HTML answers: ``PAGE_CSP``. The pages use only their own files (``/static/web``: app.css and
  filters.js), images from the site (the uplift charts) and forms posted to the site, so the
  policy allows exactly that; no inline script or style. The API docs pages (Swagger UI, ReDoc)
  load their code from a CDN and are left without it.
- ``Cache-Control: no-store`` on every HTML page and on every answer to a request that carried
  a credential (an ``X-API-Key`` header or a session cookie), unless the route set its own:
  portfolios and keys' answers do not stay in shared or browser caches.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.security import API_KEY_HEADER
from serving.web.sessions import SESSION_COOKIE

PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_KEY_HEADER = API_KEY_HEADER.lower().encode()
_SESSION = f"{SESSION_COOKIE}=".encode()


def _has_credential(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == _KEY_HEADER or (name == b"cookie" and _SESSION in value):
            return True
    return False


class SecurityHeadersMiddleware:
    """Adds the headers above to ``http.response.start``; routes' own values win."""

    def __init__(self, app: ASGIApp, csp_exempt: Iterable[str | None] = ()) -> None:
        self.app = app
        self.csp_exempt = frozenset(p for p in csp_exempt if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credential = _has_credential(scope)
        exempt = scope["path"] in self.csp_exempt

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                page = headers.get("content-type", "").startswith("text/html")
                if page and not exempt:
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
                if page or credential:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
