"""Posting the pages' forms as a browser does: the form's CSRF token and this site's Origin."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

#: The Origin a browser sends with a form of a page served as http://testserver (TestClient).
SAME_ORIGIN = {"Origin": "http://testserver"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf field"
    return found.group(1)


def login(
    client: TestClient | httpx.Client,
    key: str,
    next_path: str = "",
    origin: dict[str, str] | None = None,
) -> httpx.Response:
    """Open the login form (it sets the login cookie), then post it with ``key``."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    data = {"key": key, "next": next_path, "csrf": csrf_of(form.text)}
    headers = SAME_ORIGIN if origin is None else origin
    return client.post("/login", data=data, headers=headers, follow_redirects=False)
