"""The manager workspace in headless Chromium: log in, read, filter, export, open a client."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page

from tests.browser.conftest import Site

#: Set to a folder to keep a screenshot of the manager page (for a human to look at).
SCREENSHOT_DIR = os.environ.get("RECSYS_SCREENSHOT_DIR")


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    page.on("console", lambda message: _console(page).append(message.text))
    page.goto(f"{site.url}/managers/{site.manager_id}")
    page.get_by_label("API key").fill(site.manager_key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#nbo")
    yield page
    context.close()


def _console(page: Page) -> list[str]:
    """What the page logged to the console (Chromium reports CSP violations there)."""
    if not hasattr(page, "_recsys_console"):
        page._recsys_console = []  # type: ignore[attr-defined]
    logged: list[str] = page._recsys_console  # type: ignore[attr-defined]
    return logged


def _clients(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#nbo tr[data-client]", "rows => rows.map(r => r.dataset.client)"
    )


def test_list_shows_real_recommendations(page: Page, site: Site) -> None:
    assert page.url.endswith(f"/managers/{site.manager_id}")
    assert len(_clients(page)) > 5
    offers = page.locator("#nbo ol.offers li strong").all_inner_texts()
    assert offers and set(offers) <= site.item_names
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "manager.png"), full_page=False)


def test_probabilities_are_calibrated_and_explained(page: Page) -> None:
    """p is a held-out frequency (small for most offers), not 0.75-0.99 for everything."""
    note = page.locator("#probability-note").inner_text()
    assert "calibrated on held-out clients" in note and "price × margin × p" in note
    assert "₽" in note and "₽" in page.locator("#summary").inner_text()
    texts = page.locator("#nbo ol.offers li .muted").all_inner_texts()
    p = [float(t.rsplit("p ", 1)[1]) for t in texts]
    assert p and all(0.0 <= v <= 1.0 for v in p)
    assert sum(p) / len(p) < 0.5
    assert len(set(p)) > 1


def test_the_session_cookie_is_invisible_to_scripts_and_holds_no_key(
    page: Page, site: Site
) -> None:
    assert "recsys_session" not in page.evaluate("document.cookie")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert (
        cookies["recsys_session"]["httpOnly"] and cookies["recsys_session"]["sameSite"] == "Strict"
    )
    assert all(site.manager_key not in c["value"] for c in cookies.values())


def test_pages_work_under_their_content_security_policy(page: Page) -> None:
    """The CSP allows the pages' own CSS and script: no violation, the script runs, styles apply."""
    response = page.reload()
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex"
    page.get_by_label("Offers per client").select_option("1")  # filters.js submits on change
    page.wait_for_url("**k=1**")
    first = _clients(page)[0]
    page.locator(f'#nbo tr[data-client="{first}"] a').first.click()
    page.wait_for_selector("#client-title")
    violations = [m for m in _console(page) if "Content Security Policy" in m]
    assert not violations, violations


def test_log_out_ends_the_session(page: Page, site: Site) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto(f"{site.url}/managers/{site.manager_id}")
    assert "/login?next=" in page.url


def test_kind_filter_changes_the_list(page: Page) -> None:
    before = page.locator("#nbo ol.offers").first.inner_text()
    page.get_by_label("Offer kind").select_option("course")  # submits on change
    page.wait_for_url("**kind=course**")
    kinds = set(page.locator("#nbo ol.offers .tag").all_inner_texts())
    assert kinds == {"course"}
    assert page.locator("#nbo ol.offers").first.inner_text() != before


def test_industry_filter_is_keyboard_usable(page: Page) -> None:
    select = page.get_by_label("Industry")
    options = select.locator("option").all_inner_texts()
    select.focus()
    page.keyboard.press("ArrowDown")  # the first real industry after "all industries"
    page.wait_for_url("**industry=**")
    chosen = options[1]
    cells = page.locator("#nbo tr[data-client] td:first-child .muted").all_inner_texts()
    assert cells and all(cell.startswith(chosen) for cell in cells)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_downloads_a_file_that_parses(page: Page, site: Site, fmt: str) -> None:
    with page.expect_download() as info:
        page.locator(f"#export-{fmt}").click()
    data = Path(info.value.path()).read_bytes()
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(data))
    else:
        sheet = load_workbook(io.BytesIO(data), read_only=True).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        frame = pd.DataFrame(rows[1:], columns=list(rows[0]))
    assert list(frame["client_id"]) == _clients(page)
    assert set(frame["offer_1_name"].dropna()) <= site.item_names


def test_client_detail_opens(page: Page) -> None:
    first = _clients(page)[0]
    page.locator(f'#nbo tr[data-client="{first}"] a').first.click()
    page.wait_for_selector("#client-title")
    assert first in page.locator("#client-title").inner_text()
    assert page.locator("#client-offers li").count() > 0


def test_no_horizontal_scrolling_at_1366(page: Page) -> None:
    page.get_by_label("Offers per client").select_option("10")
    page.wait_for_url("**k=10**")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def test_russian_by_default_for_a_russian_browser_and_the_switch(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    try:
        page.goto(f"{site.url}/managers/{site.manager_id}")
        page.get_by_label("API-ключ").fill(site.manager_key)
        page.get_by_role("button", name="Войти").click()
        page.wait_for_selector("#nbo")
        assert page.locator("html").get_attribute("lang") == "ru"
        assert "Лучшие предложения" in page.locator("h1").inner_text()
        note = page.locator("#probability-note").inner_text()
        assert "вероятность" in note and "цена × маржа × p" in note
        reasons = " ".join(page.locator("#nbo .reasons").all_inner_texts())
        assert "пользуются" in reasons
        page.locator("#language-en").click()
        page.wait_for_selector("html[lang=en]")
        assert "Next-best offers" in page.locator("h1").inner_text()
        assert "used by" in " ".join(page.locator("#nbo .reasons").all_inner_texts())
        page.reload()  # the choice is remembered
        assert page.locator("html").get_attribute("lang") == "en"
    finally:
        context.close()
