"""Manager pages and exports against a real redis-server and a saved ALS bundle."""

from __future__ import annotations

import io

import pandas as pd
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.serving.conftest import ITEMS, admin, make_frames, manager
from tests.serving.web.forms import login
from tests.serving.web.html_rows import money_value, nbo_rows

NAMES = set(ITEMS["name"])


def _manager_clients(manager_id: str) -> set[str]:
    clients, _ = make_frames()
    return set(clients.loc[clients["manager_id"] == manager_id, "client_id"])


def test_page_without_key_redirects_to_login(client: TestClient) -> None:
    response = client.get("/managers/m001", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmanagers%2Fm001"


def test_login_sets_httponly_cookie_and_opens_own_page(client: TestClient) -> None:
    response = login(client, "key-of-m001")
    assert response.status_code == 303
    assert response.headers["location"] == "/managers/m001"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "recsys_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = client.get("/managers/m001")
    assert page.status_code == 200
    assert "Лучшие предложения для клиентов менеджера m001" in page.text


def test_wrong_key_is_refused_and_not_echoed(client: TestClient) -> None:
    response = login(client, "not-a-key")
    assert response.status_code == 401
    assert "not-a-key" not in response.text
    assert not any("recsys_session=" in c for c in response.headers.get_list("set-cookie"))


def test_login_does_not_redirect_off_site(client: TestClient) -> None:
    response = login(client, "key-of-m001", next_path="//evil.example/x")
    assert response.headers["location"] == "/managers/m001"


def test_manager_sees_own_clients_ordered_by_opportunity(client: TestClient) -> None:
    page = client.get("/managers/m001", headers=manager("m001"))
    assert page.status_code == 200
    rows = nbo_rows(page.text)
    assert {client_id for client_id, _ in rows} == _manager_clients("m001")
    values = [money_value(cells[-1]) for _, cells in rows]
    assert values == sorted(values, reverse=True)
    assert any(name in page.text for name in NAMES)
    assert "пользуются" in page.text  # reasons are shown (in Russian by default)
    # a client the CRM names is listed by its name, its id beside it; the others by their id
    assert ">ООО Клиент 10</a>" in page.text and '<div class="muted">c010 · ' in page.text
    assert ">c002</a>" in page.text


def test_other_managers_page_is_forbidden(client: TestClient) -> None:
    assert client.get("/managers/m002", headers=manager("m001")).status_code == 403
    assert client.get("/managers/m002", headers=admin()).status_code == 200


def test_kind_filter_keeps_only_that_kind(client: TestClient) -> None:
    page = client.get("/managers/m001?kind=course&industry=&k=3", headers=manager("m001"))
    assert page.status_code == 200
    assert 'class="tag course"' in page.text
    assert 'class="tag tariff"' not in page.text
    assert 'class="tag addon"' not in page.text


def test_industry_filter_keeps_only_that_industry(client: TestClient) -> None:
    page = client.get("/managers/m001?industry=government", headers=manager("m001"))
    rows = nbo_rows(page.text)
    assert len(rows) > 0
    assert all("госсектор" in cells[0] for _, cells in rows)  # the industry, in Russian
    assert len(rows) < len(_manager_clients("m001"))


def test_unknown_kind_is_422(client: TestClient) -> None:
    assert client.get("/managers/m001?kind=pizza", headers=manager("m001")).status_code == 422


def test_csv_export_parses_and_matches_page_order(client: TestClient) -> None:
    response = client.get("/v1/managers/m001/next-best-offers.csv", headers=manager("m001"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    frame = pd.read_csv(io.BytesIO(response.content))
    assert set(frame["client_id"]) == _manager_clients("m001")
    assert list(frame["expected_value"]) == sorted(frame["expected_value"], reverse=True)
    assert set(frame["offer_1_name"].dropna()) <= NAMES
    named = frame.set_index("client_id")["client_name"]
    assert named["c010"] == "ООО Клиент 10" and pd.isna(named["c002"])


def test_xlsx_export_parses(client: TestClient) -> None:
    response = client.get(
        "/v1/managers/m001/next-best-offers.xlsx?kind=addon", headers=manager("m001")
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert "offer_1_name" in header
    assert len(rows) - 1 == len(_manager_clients("m001"))
    kinds = {row[header.index("offer_1_kind")] for row in rows[1:]}
    assert kinds <= {"addon", None, ""}


def test_export_needs_a_key_and_respects_portfolios(client: TestClient) -> None:
    assert client.get("/v1/managers/m001/next-best-offers.csv").status_code == 401
    response = client.get("/v1/managers/m001/next-best-offers.csv", headers=manager("m002"))
    assert response.status_code == 403


def test_client_detail(client: TestClient) -> None:
    page = client.get("/managers/m001/clients/c000", headers=manager("m001"))
    assert page.status_code == 200
    assert "Клиент c000" in page.text
    assert "Подключено" in page.text
    assert "Отрасль" in page.text and "industry" not in page.text.split("<main>")[1]  # labels
    assert "Название</dt><dd>ООО Клиент 0</dd>" in page.text
    english = client.get(
        "/managers/m001/clients/c000", headers={**manager("m001"), "Accept-Language": "en"}
    )
    assert "Client c000" in english.text and "Owned offers" in english.text
    assert "Industry" in english.text
    assert client.get("/managers/m001/clients/c001", headers=manager("m001")).status_code == 403


def test_export_file_name_is_header_safe_for_any_manager_id(client: TestClient) -> None:
    response = client.get("/v1/managers/Ā мен/next-best-offers.csv", headers=admin())
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert 'filename="next-best-offers-_____.csv"' in disposition
    assert "filename*=UTF-8''next-best-offers-%C4%80%20" in disposition


def test_language_switch_is_remembered_and_changes_reasons(client: TestClient) -> None:
    page = client.get("/managers/m001", headers=manager("m001"))
    assert '<html lang="ru">' in page.text and "пользуются" in page.text
    switched = client.get(
        "/language/en", params={"next": "/managers/m001?k=3"}, follow_redirects=False
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/managers/m001?k=3"
    page = client.get("/managers/m001", headers=manager("m001"))  # the cookie is kept
    assert '<html lang="en">' in page.text
    assert "Next-best offers for manager m001" in page.text and "used by" in page.text
    back = client.get("/language/ru", params={"next": "https://evil.example/"})
    assert back.url.path == "/login" or back.url.host != "evil.example"
    assert client.get("/language/de").status_code == 422
    client.cookies.delete("recsys_lang")
