"""Who is looking at a page: the same API keys as the API, from a header or a login cookie.

Scripts send ``X-API-Key``; browsers log in once with a form that sets the key in an
``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` over HTTPS), so the key never appears in a
URL or an access log and page scripts cannot read it. A page asked for without a key redirects
to the login form; an export (an API endpoint) answers 401 like the rest of the API.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from fastapi.security import APIKeyHeader

from serving.security import API_KEY_HEADER, KeyRing, Principal

COOKIE = "recsys_key"
COOKIE_MAX_AGE_S = 8 * 3600

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="API key")


def _key(request: Request, header: str | None) -> str | None:
    return header or request.cookies.get(COOKIE)


async def _web_principal(
    request: Request, header: Annotated[str | None, Depends(_api_key)]
) -> Principal:
    """Staff (admin or manager) from the header or the cookie; 401 otherwise."""
    keys: KeyRing = request.app.state.keys
    return keys.require(keys.identify(_key(request, header)), "admin", "manager")


class LoginRequiredError(Exception):
    """A page was asked for without a usable key; the handler redirects to the login form."""

    def __init__(self, path: str) -> None:
        self.path = path


async def _page_principal(
    request: Request, header: Annotated[str | None, Depends(_api_key)]
) -> Principal:
    """Like ``_web_principal`` but a missing or stale key sends the browser to log in."""
    keys: KeyRing = request.app.state.keys
    try:
        principal = keys.identify(_key(request, header))
    except HTTPException:
        principal = keys.identify(None)
    if principal.role == "anonymous":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    return keys.require(principal, "admin", "manager")


WebStaffDep = Annotated[Principal, Depends(_web_principal)]
PageStaffDep = Annotated[Principal, Depends(_page_principal)]


def login_redirect(request: Request, exc: LoginRequiredError) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.path, safe='')}", status.HTTP_303_SEE_OTHER)


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def home_of(principal: Principal) -> str:
    if principal.role == "manager" and principal.manager_id:
        return f"/managers/{quote(principal.manager_id, safe='')}"
    return "/ds"


def set_login_cookie(response: RedirectResponse, key: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
