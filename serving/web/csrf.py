"""Forms cannot be posted from another site: an Origin check and a token in every form.

- ``require_same_origin`` (a router dependency of the pages): a POST (any unsafe method) must
  come with an ``Origin`` header (else a ``Referer``) naming this site: the host the request was
  sent to, or one of ``RECSYS_WEB_ORIGINS`` (the public address behind a reverse proxy). A request
  with neither header is refused too: browsers send ``Origin`` on every form POST.
- Tokens: the login form carries the token of a short-lived ``LOGIN_CSRF_COOKIE`` (double submit,
  since there is no session yet); forms of a logged-in page carry the session's token
  (``serving.web.sessions.Session.csrf``). Compared in constant time.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status

LOGIN_CSRF_COOKIE = "recsys_login_csrf"
LOGIN_CSRF_MAX_AGE_S = 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
#: Longest Origin or Referer echoed in a refusal.
_MAX_ECHOED = 100


def new_token() -> str:
    return secrets.token_urlsafe(32)


def well_formed(token: str | None) -> bool:
    return bool(token) and _TOKEN.fullmatch(token or "") is not None


def tokens_match(sent: str | None, expected: str | None) -> bool:
    if not well_formed(sent) or not well_formed(expected):
        return False
    return hmac.compare_digest(str(sent), str(expected))


def _origin_of(url: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an Origin or Referer value, lowercased; None when unusable."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def cross_origin_problem(request: Request, allowed_origins: tuple[str, ...]) -> str | None:
    """Why this request does not come from a page of this site; None when it does."""
    sent = request.headers.get("origin")
    source = "Origin"
    if sent is None or sent == "null":
        referer = request.headers.get("referer")
        if referer is not None:
            sent, source = referer, "Referer"
    if not sent:
        return "it has no Origin or Referer header"
    origin = _origin_of(sent)
    host = request.headers.get("host", "").lower()
    if origin is not None:
        if origin[1] == host:  # the host the browser sent the form to
            return None
        if f"{origin[0]}://{origin[1]}" in allowed_origins:
            return None
    shown = sent if len(sent) <= _MAX_ECHOED else sent[:_MAX_ECHOED] + "..."
    return f"its {source} {shown!r} is not this site ({host or 'no Host header'})"


async def require_same_origin(request: Request) -> None:
    """403 for a state-changing request that another site may have sent."""
    if request.method in SAFE_METHODS:
        return
    allowed: tuple[str, ...] = request.app.state.settings.web_origins
    problem = cross_origin_problem(request, allowed)
    if problem is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this form may not be posted from another site: {problem} "
            "(behind a reverse proxy, list the public origin in RECSYS_WEB_ORIGINS)",
        )
