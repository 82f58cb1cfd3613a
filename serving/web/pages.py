"""HTML pages for account managers: log in, the next-best-offer list, a client's detail."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.deps import ModelDep, SettingsDep, StoreDep, ranking_policy
from serving.security import KeyRing, forbid_client, forbid_manager
from serving.web.auth import COOKIE, PageStaffDep, home_of, safe_next, set_login_cookie
from serving.web.portfolio import PROFILE_COLUMNS, Filters, client_view, manager_view
from serving.web.views import KINDS, FiltersDep, client_rows, templates

router = APIRouter(include_in_schema=False)
ManagerId = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("/")
def home(principal: PageStaffDep) -> RedirectResponse:
    return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the key; on success keep it in an HttpOnly cookie and go where the user was."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    keys: KeyRing = request.app.state.keys
    principal = None
    if key:
        try:
            principal = keys.identify(key)
        except Exception:  # an unknown key: same answer as an empty one
            principal = None
    if principal is None or principal.role not in ("admin", "manager"):
        context = {"next": target, "error": "This key is not a manager's or an admin's key."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(target or home_of(principal), status.HTTP_303_SEE_OTHER)
    set_login_cookie(response, key, secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response


def _query(filters: Filters) -> str:
    values = {"kind": filters.kind or "", "industry": filters.industry or "", "k": filters.k}
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
    """The manager's clients by opportunity, filtered by offer kind and industry."""
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    view = manager_view(
        model, store, manager_id, filters, settings.max_manager_clients, ranking_policy(settings)
    )
    rows = client_rows(view)
    context = {
        "principal": principal,
        "manager_id": manager_id,
        "rows": rows,
        "total": sum(r.expected_value for r in rows),
        "filters": filters,
        "kinds": KINDS,
        "industries": view.industries,
        "query": _query(filters),
        "model_label": model.label,
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
    """One client: profile, owned offers, loyalty progress and ten next-best offers."""
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    members = store.clients_of_manager(manager_id)
    if members is not None and client_id not in members:
        raise forbid_client(client_id)
    view = client_view(model, store, client_id, Filters(k=10), ranking_policy(settings))
    row = client_rows(view)[0]
    record = view.frame.iloc[0]
    profile = [(c, record[c]) for c in PROFILE_COLUMNS if record.get(c)]
    context = {
        "principal": principal,
        "manager_id": manager_id,
        "row": row,
        "profile": profile,
        "calibration": model.ranking.calibration,
    }
    return templates.TemplateResponse(request, "client.html", context)
