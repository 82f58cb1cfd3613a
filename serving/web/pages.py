"""HTML pages for account managers: log in and out, the next-best-offer list, a client's detail.

Every state-changing form here passes ``require_same_origin`` (a dependency of the router) and
carries a CSRF token; failed logins count toward the per-address limit of ``serving.rate_limit``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from feature_store.online import StoreUnavailableError
from recommender.churn.bands import RISK_BANDS
from recommender.churn.retention import client_risk
from serving.deps import ModelDep, SettingsDep, StoreDep, ranking_policy
from serving.rate_limit import FailedAttempts, client_address
from serving.security import KeyRing, Principal, forbid_client, forbid_manager, key_id
from serving.web.auth import (
    SESSIONS_DOWN,
    PageStaffDep,
    current_session,
    home_of,
    safe_next,
    session_store,
    set_session_cookie,
)
from serving.web.csrf import (
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE_S,
    new_token,
    require_same_origin,
    tokens_match,
    well_formed,
)
from serving.web.i18n import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE_S, page_language
from serving.web.portfolio import PROFILE_COLUMNS, Filters, client_view, manager_view
from serving.web.sessions import SESSION_COOKIE
from serving.web.views import KINDS, FiltersDep, client_rows, programmes, templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_same_origin)])
ManagerId = Annotated[str, Path(min_length=1, max_length=128)]
STAFF = ("admin", "manager")


@router.get("/")
def home(principal: PageStaffDep) -> RedirectResponse:
    return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)


def _login_page(
    request: Request,
    target: str | None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
    headers: dict[str, str] | None = None,
) -> Response:
    """The login form with the token of its (reused or new) login cookie."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not well_formed(token):
        token = new_token()
    context = {"next": target, "error": error, "csrf": token}
    response = templates.TemplateResponse(
        request, "login.html", context, status_code=status_code, headers=headers
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        str(token),
        max_age=LOGIN_CSRF_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/language/{code}")
def switch_language(
    request: Request, code: Annotated[str, Path(pattern="^(ru|en)$")], next: str | None = None
) -> RedirectResponse:
    """The header's language switch: remember the choice in a cookie, back to the page."""
    response = RedirectResponse(safe_next(next) or "/", status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=LANGUAGE_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, safe_next(next))


def _form(body: bytes) -> dict[str, str]:
    """The first value of each field of an urlencoded form (none of a form of 17+ fields)."""
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=16)
    except ValueError:  # not one of these forms: it fails the token check
        return {}
    return {name: values[0] for name, values in parsed.items()}


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the key; on success open a session (the key stays here) and go where the user was.

    Order matters: the form's token first (a forged form is not a guess), then the key, where a
    wrong one counts toward the address's limit and an address over it gets 429 whatever it sends.
    """
    form = _form(await request.body())
    target = safe_next(form.get("next"))
    if not tokens_match(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        error = "This login form has expired or was not sent by this site; please log in again."
        return _login_page(request, target, error, status.HTTP_403_FORBIDDEN)
    key = form.get("key", "").strip()
    keys: KeyRing = request.app.state.keys
    attempts: FailedAttempts = request.app.state.failed_attempts
    address = client_address(request.scope)
    known = bool(key) and keys.knows(key)
    limited = attempts.check(address) if known or not key else attempts.fail(address)
    if limited is not None:
        headers = {"Retry-After": str(limited.retry_after_s)}
        error = limited.message("logins")
        return _login_page(request, target, error, status.HTTP_429_TOO_MANY_REQUESTS, headers)
    principal = keys.identify(key) if known else None
    if principal is None or principal.role not in STAFF:
        error = "This key is not a manager's or an admin's key."
        return _login_page(request, target, error, status.HTTP_401_UNAUTHORIZED)
    return _open_session(request, principal, key_id(key), target or home_of(principal))


def _open_session(request: Request, principal: Principal, key_name: str, target: str) -> Response:
    """A new session (the one the browser had, if any, ends: no session fixation)."""
    sessions = session_store(request)
    try:
        if sessions is None:
            raise StoreUnavailableError("no online store")
        sessions.delete(request.cookies.get(SESSION_COOKIE))
        session_id, _ = sessions.create(principal, key_name)
    except StoreUnavailableError:
        unavailable = status.HTTP_503_SERVICE_UNAVAILABLE
        return _login_page(request, target, SESSIONS_DOWN, unavailable, {"Retry-After": "1"})
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    secure = request.url.scheme == "https"
    set_session_cookie(response, session_id, sessions.ttl_s, secure)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login", secure=secure, httponly=True)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    """End the session (its Redis entry and the cookie); a live one needs its form token."""
    form = _form(await request.body())
    session = current_session(request)
    if session is not None:
        if not tokens_match(form.get("csrf"), session.csrf):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail="the logout form does not carry this session's token; reload the page",
            )
        sessions = session_store(request)
        if sessions is not None:  # Redis failing now: a 503, the user logs out again
            sessions.delete(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    secure = request.url.scheme == "https"
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
    )
    return response


def _query(filters: Filters) -> str:
    values = {
        "kind": filters.kind or "",
        "industry": filters.industry or "",
        "k": filters.k,
        "sort": filters.sort,
        "risk": filters.risk or "",
    }
    return urlencode(values)


@router.get("/managers")
def pick_manager(
    principal: PageStaffDep, manager_id: Annotated[str | None, Query(max_length=128)] = None
) -> RedirectResponse:
    """The form on the data-science page; a manager always lands on their own list."""
    target = f"/managers/{quote(manager_id, safe='')}" if manager_id else home_of(principal)
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.get("/managers/{manager_id}", response_class=HTMLResponse)
def manager_page(
    request: Request,
    principal: PageStaffDep,
    model: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    manager_id: ManagerId,
    filters: FiltersDep,
) -> Response:
    """The manager's clients by opportunity or by revenue at risk, filtered by offer kind,
    industry and churn-risk band; without a churn model the page says so and orders by
    opportunity."""
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    extra = programmes(request, settings)
    if extra.scores is None:  # nothing to order or filter by: say why, show the rest
        filters = replace(filters, sort="opportunity", risk=None)
    view = manager_view(
        model,
        store,
        manager_id,
        filters,
        settings.max_manager_clients,
        ranking_policy(settings),
        extra,
    )
    rows = client_rows(view, extra.profi_tiers)
    context = {
        "principal": principal,
        "manager_id": manager_id,
        "rows": rows,
        "total": sum(r.expected_value for r in rows),
        "at_risk_total": sum(r.risk.revenue_at_risk for r in rows),
        "filters": filters,
        "kinds": KINDS,
        "bands": RISK_BANDS,
        "industries": view.industries,
        "query": _query(filters),
        "model_label": model.label,
        "churn": extra,
        "calibration": model.ranking.calibration,
    }
    return templates.TemplateResponse(request, "manager.html", context)


@router.get("/managers/{manager_id}/clients/{client_id}", response_class=HTMLResponse)
def client_page(
    request: Request,
    principal: PageStaffDep,
    model: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    manager_id: ManagerId,
    client_id: Annotated[str, Path(min_length=1, max_length=128)],
) -> Response:
    """One client: profile, owned offers, churn risk and its drivers, Profi and spend tier
    progress and ten next-best offers."""
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    members = store.clients_of_manager(manager_id)
    if members is not None and client_id not in members:
        raise forbid_client(client_id)
    language = page_language(request)
    filters = Filters(k=10, language=language)
    extra = programmes(request, settings)
    view = client_view(model, store, client_id, filters, ranking_policy(settings), extra)
    row = client_rows(view, extra.profi_tiers)[0]
    record = view.frame.iloc[0]
    named = [("name", row.name)] if row.name else []
    profile = named + [(c, record[c]) for c in PROFILE_COLUMNS if record.get(c)]
    risk = client_risk(extra.scores, extra.bands, client_id) if extra.scores else None
    context = {
        "principal": principal,
        "manager_id": manager_id,
        "row": row,
        "profile": profile,
        "drivers": risk.said(language) if risk is not None else [],
        "churn": extra,
        "calibration": model.ranking.calibration,
    }
    return templates.TemplateResponse(request, "client.html", context)
