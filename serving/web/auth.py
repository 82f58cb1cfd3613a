"""Who is looking at a page: the same API keys as the API, from a header or a login session.

Scripts send ``X-API-Key``; browsers log in once with a form and then carry only a random
session id (``serving.web.sessions``): the key never appears in a cookie, a URL or an access
log. A page asked for without a key or a live session redirects to the login form; an export
(an API endpoint) answers 401 like the rest of the API.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.security import APIKeyHeader

from feature_store.online import StoreUnavailableError
from serving.security import API_KEY_HEADER, KeyRing, Principal
from serving.store_gateway import StoreGateway
from serving.web.sessions import SESSION_COOKIE, Session, SessionStore

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="API key")

SESSIONS_DOWN = (
    "web logins are kept in the online store (Redis), which is unavailable; retry shortly "
    f"(scripts can send the {API_KEY_HEADER} header instead)"
)


def session_store(request: Request) -> SessionStore | None:
    """The sessions of this app, or None while it has no online store."""
    gateway: StoreGateway = request.app.state.store
    if gateway.store is None:
        return None
    return SessionStore(gateway.store, request.app.state.settings.session_ttl_s)


def sessions_down() -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=SESSIONS_DOWN, headers={"Retry-After": "1"}
    )


def current_session(request: Request) -> Session | None:
    """The live session of the request's cookie (kept in ``request.state.web_session``)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    session = None
    if session_id:
        sessions = session_store(request)
        if sessions is None:
            raise sessions_down()
        try:
            session = sessions.get(session_id, request.app.state.keys)
        except StoreUnavailableError:
            raise sessions_down() from None
    request.state.web_session = session
    return session


def _principal(request: Request, header: str | None) -> Principal:
    """From the header (a wrong key is a 401), else the session; anonymous without either."""
    keys: KeyRing = request.app.state.keys
    if header:
        request.state.web_session = None
        return keys.identify(header)
    session = current_session(request)
    return session.principal if session is not None else keys.identify(None)


async def _web_principal(
    request: Request, header: Annotated[str | None, Depends(_api_key)]
) -> Principal:
    """Staff (admin or manager) from the header or the session; 401 otherwise."""
    keys: KeyRing = request.app.state.keys
    return keys.require(_principal(request, header), "admin", "manager")


class LoginRequiredError(Exception):
    """A page was asked for without a usable key; the handler redirects to the login form."""

    def __init__(self, path: str) -> None:
        self.path = path


async def _page_principal(
    request: Request, header: Annotated[str | None, Depends(_api_key)]
) -> Principal:
    """Like ``_web_principal`` but a missing key or session sends the browser to log in."""
    keys: KeyRing = request.app.state.keys
    try:
        principal = _principal(request, header)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
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


def set_session_cookie(response: Response, session_id: str, max_age_s: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max_age_s,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
