"""Web security against a real redis-server: sessions, forged forms, headers, failed-key limits.

Two app instances on one Redis stand for two workers of ``recsys serve --workers 2``; the burst
through real worker processes is in ``test_login_burst.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from feature_store.redis_store import RedisOnlineStore
from serving.app import create_app
from serving.rate_limit import FailedAttempts
from serving.settings import ServingSettings
from serving.store_gateway import StoreGateway
from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS, manager
from tests.serving.web.forms import SAME_ORIGIN, csrf_of, login

M001 = MANAGER_KEYS["m001"]
EVIL = {"Origin": "https://evil.example"}


@contextmanager
def app_client(
    settings: ServingSettings, address: str = "testclient", **update: object
) -> Iterator[TestClient]:
    configured = settings.model_copy(update=update) if update else settings
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as client:
        yield client


def session_entries(store: RedisOnlineStore) -> dict[bytes, bytes]:
    keys = store.redis.keys(f"{store.keys.prefix}session:*")
    return {key: store.redis.get(key) for key in keys}


# ---- sessions --------------------------------------------------------------------------------


def test_the_cookie_holds_a_session_id_never_the_key(
    client: TestClient, store: RedisOnlineStore
) -> None:
    response = login(client, M001)
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert cookies and not any(M001 in c for c in cookies)
    session_id = client.cookies["recsys_session"]
    assert len(session_id) >= 43 and M001 not in session_id
    entries = session_entries(store)
    assert len(entries) == 1
    ((key, value),) = entries.items()
    assert M001.encode() not in value and session_id.encode() not in key  # id stored hashed
    assert 0 < store.redis.ttl(key) <= client.app.state.settings.session_ttl_s  # type: ignore[attr-defined]
    assert client.get("/managers/m001").status_code == 200
    # the old cookie that held the key is no way in any more
    client.cookies.clear()
    client.cookies.set("recsys_key", M001)
    assert client.get("/managers/m001", follow_redirects=False).status_code == 303


def test_a_session_works_on_another_worker_and_logout_ends_it_everywhere(
    settings: ServingSettings, store: RedisOnlineStore
) -> None:
    with app_client(settings) as one, app_client(settings) as two:
        assert login(one, M001).status_code == 303
        two.cookies.set("recsys_session", one.cookies["recsys_session"])
        page = two.get("/managers/m001")
        assert page.status_code == 200
        assert "Next-best offers" in page.text or "m001" in page.text
        logout = two.post("/logout", data={"csrf": csrf_of(page.text)}, headers=SAME_ORIGIN,
                          follow_redirects=False)  # fmt: skip
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert session_entries(store) == {}
        assert one.get("/managers/m001", follow_redirects=False).status_code == 303


def test_a_replaced_key_ends_the_sessions_opened_with_it(settings: ServingSettings) -> None:
    with app_client(settings) as before:
        assert login(before, M001).status_code == 303
        session_id = before.cookies["recsys_session"]
    rotated = {**MANAGER_KEYS, "m001": "a-new-key-of-m001"}
    with app_client(settings, manager_keys={m: SecretStr(k) for m, k in rotated.items()}) as after:
        after.cookies.set("recsys_session", session_id)
        assert after.get("/managers/m001", follow_redirects=False).status_code == 303


def test_a_forged_or_unknown_session_id_is_a_login_redirect(client: TestClient) -> None:
    for value in ("x" * 43, "", "z" * 5000):
        client.cookies.set("recsys_session", value)
        response = client.get("/managers/m001", follow_redirects=False)
        assert response.status_code == 303, value[:10]
        assert response.headers["location"].startswith("/login")
    assert client.get("/v1/managers/m001/next-best-offers.csv").status_code == 401


def test_login_while_redis_is_down_is_a_clear_503(client: TestClient) -> None:
    client.app.state.store = StoreGateway(None)  # type: ignore[attr-defined]
    response = login(client, M001)
    assert response.status_code == 503
    assert "Redis" in response.text and "X-API-Key" in response.text
    assert response.headers["Retry-After"] == "1"


# ---- forged forms ----------------------------------------------------------------------------


def test_a_cross_origin_login_is_refused(client: TestClient, store: RedisOnlineStore) -> None:
    form = client.get("/login")
    data = {"key": M001, "next": "", "csrf": csrf_of(form.text)}
    for headers in (EVIL, {"Origin": "null"}, {}, {"Referer": "https://evil.example/page"}):
        response = client.post("/login", data=data, headers=headers, follow_redirects=False)
        assert response.status_code == 403, headers
        assert "another site" in response.json()["detail"]
    assert session_entries(store) == {}
    referer = {"Referer": "http://testserver/login?next=%2F"}
    assert client.post("/login", data=data, headers=referer, follow_redirects=False).is_redirect


def test_a_configured_public_origin_may_post(settings: ServingSettings) -> None:
    public = "https://offers.example.com"
    with app_client(settings, web_origins=(public,)) as client:
        response = login(client, M001, origin={"Origin": public})
        assert response.status_code == 303
        assert login(client, M001, origin=EVIL).status_code == 403
    with pytest.raises(ValueError, match="RECSYS_WEB_ORIGINS"):
        settings.model_validate({**settings.model_dump(), "web_origins": "offers.example.com/x"})


def test_a_login_form_without_its_token_is_refused(client: TestClient) -> None:
    client.get("/login")  # the login cookie exists, but the form was not this one
    stuffed = "&".join(f"f{n}=1" for n in range(40))
    response = client.post("/login", content=stuffed, headers={
        **SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 403
    for token in ("", "A" * 43):
        response = client.post("/login", data={"key": M001, "csrf": token},
                               headers=SAME_ORIGIN, follow_redirects=False)  # fmt: skip
        assert response.status_code == 403
        assert "expired or was not sent by this site" in response.text
    assert "recsys_session" not in client.cookies


def test_every_state_changing_page_checks_the_origin(client: TestClient) -> None:
    """Every non-API route that changes state (today: login, logout) refuses another site."""
    try:  # FastAPI >= 0.16x keeps included routers as a tree
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(client.app.routes))  # type: ignore[attr-defined]
    except ImportError:
        routes = client.app.routes  # type: ignore[attr-defined]
    unsafe = [
        (method, route.path)
        for route in routes
        for method in getattr(route, "methods", None) or ()
        if method not in ("GET", "HEAD", "OPTIONS") and not route.path.startswith("/v1/")
    ]
    assert ("POST", "/login") in unsafe and ("POST", "/logout") in unsafe
    for method, path in unsafe:
        response = client.request(method, path, headers=EVIL)
        assert response.status_code == 403, (method, path)


def test_logout_needs_the_sessions_token(client: TestClient, store: RedisOnlineStore) -> None:
    login(client, M001)
    page = client.get("/managers/m001")
    forged = client.post("/logout", data={"csrf": "B" * 43}, headers=SAME_ORIGIN,
                         follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403
    assert len(session_entries(store)) == 1
    cross = client.post("/logout", data={"csrf": csrf_of(page.text)}, headers=EVIL)
    assert cross.status_code == 403
    assert len(session_entries(store)) == 1


# ---- headers ---------------------------------------------------------------------------------


def _page_headers_ok(response: httpx.Response, where: str) -> None:
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY", where
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["Referrer-Policy"] == "same-origin", where
    assert headers["Cache-Control"] == "no-store", where
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "unsafe-inline" not in csp


def test_pages_send_the_security_headers_and_need_nothing_inline(client: TestClient) -> None:
    _page_headers_ok(client.get("/login"), "/login")
    login(client, ADMIN_KEY, next_path="/ds")
    pages = {path: client.get(path) for path in
             ("/ds", "/managers/m001", "/managers/m001/clients/c000")}  # fmt: skip
    for path, response in pages.items():
        assert response.status_code == 200, path
        _page_headers_ok(response, path)
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert " style=" not in html and "<style" not in html, f"inline style on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler on {path}"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            served = client.get(asset)
            assert served.status_code == 200, asset
            kind = served.headers["content-type"]
            assert kind.startswith("text/css" if asset.endswith(".css") else "text/javascript")
    assert 'src="/static/web/filters.js"' in pages["/managers/m001"].text


def test_api_answers_with_a_key_are_not_stored(client: TestClient) -> None:
    answer = client.get("/v1/managers/m001/next-best-offers", headers=manager("m001"))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in answer.headers  # JSON, not a page
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "Content-Security-Policy" not in docs.headers  # Swagger UI loads from its CDN
    assert docs.headers["X-Frame-Options"] == "DENY"


# ---- failed logins and keys ------------------------------------------------------------------


def test_wrong_logins_get_429_after_the_limit_and_others_still_log_in(
    settings: ServingSettings,
) -> None:
    limit = 3
    with app_client(settings, "10.0.0.1", failed_key_limit=limit) as attacker:
        codes = [login(attacker, f"guess-{n}").status_code for n in range(limit + 5)]
        assert codes == [401] * limit + [429] * 5
        refused = login(attacker, "guess-last")
        assert 1 <= int(refused.headers["Retry-After"]) <= settings.failed_key_window_s
        assert "too many failed logins" in refused.text
        assert login(attacker, M001).status_code == 429  # a right key too: no oracle
        assert attacker.get("/v1/models", headers=manager("m001")).status_code == 429
    with app_client(settings, "10.0.0.2", failed_key_limit=limit) as colleague:
        assert login(colleague, M001).status_code == 303
        assert colleague.get("/managers/m001").status_code == 200


def test_wrong_api_keys_are_counted_across_workers_per_address(
    settings: ServingSettings,
) -> None:
    limit = 4
    wrong = {"X-API-Key": "not-a-key-0123456789"}
    with (
        app_client(settings, "10.0.0.3", failed_key_limit=limit) as one,
        app_client(settings, "10.0.0.3", failed_key_limit=limit) as two,
    ):
        codes = [(one if n % 2 else two).get("/v1/models", headers=wrong).status_code
                 for n in range(limit + 2)]  # fmt: skip
        assert codes == [401] * limit + [429] * 2
        limited = two.get("/v1/models", headers=manager("m001"))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "too many failed API keys" in limited.json()["detail"]
        assert limited.json()["request_id"]
        assert one.get("/v1/clients/c000/recommendations").status_code == 200  # no key: open
    with app_client(settings, "10.0.0.4", failed_key_limit=limit) as other:
        assert other.get("/v1/models", headers=manager("m001")).status_code == 200


def test_wrong_keys_on_pages_count_too(settings: ServingSettings) -> None:
    """A page answers a wrong key with the login redirect, not 401: it is counted all the same."""
    with app_client(settings, "10.0.0.5", failed_key_limit=2) as client:
        wrong = {"X-API-Key": "not-a-key-0123456789"}
        codes = [client.get("/managers/m001", headers=wrong, follow_redirects=False).status_code
                 for _ in range(3)]  # fmt: skip
        assert codes == [303, 303, 429]


def test_the_limit_holds_in_the_process_while_redis_is_down() -> None:
    attempts = FailedAttempts(lambda: StoreGateway(None), limit=2, window_s=60)
    assert [attempts.fail("10.0.0.6") for _ in range(2)] == [None, None]
    limited = attempts.fail("10.0.0.6")
    assert limited is not None and 1 <= limited.retry_after_s <= 60
    assert attempts.check("10.0.0.7") is None


def test_ipv6_addresses_count_per_64() -> None:
    from serving.rate_limit import client_address

    one = client_address({"client": ("2001:db8:1:2::1", 1)})
    two = client_address({"client": ("2001:db8:1:2:ffff::9", 1)})
    assert one == two == "2001:db8:1:2::/64"
    assert client_address({"client": ("::ffff:10.1.2.3", 1)}) == "10.1.2.3"
    assert client_address({"client": ("10.1.2.3", 1)}) == "10.1.2.3"
