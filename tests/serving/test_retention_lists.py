"""Retention-first lists for managers: the NBO API, the page and the exports ordered by revenue
at risk, a risk column and filter, the risk in the exports, retention offers with the reason
why the client is at risk; the cabinet still lists what the export lists. Real app, real Redis,
a real churn bundle (``tests.serving.churn_bundle``: c000 high, c001 medium, c002 low)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from recommender.churn.retention import RISK_COLUMNS
from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import admin, make_frames, manager
from tests.serving.web.html_rows import nbo_rows

NBO = "/v1/managers/m001/next-best-offers"


def _portfolio(manager_id: str) -> list[str]:
    clients, _ = make_frames()
    return sorted(clients.loc[clients["manager_id"] == manager_id, "client_id"])


def _clients(client: TestClient, **params: object) -> list[dict]:
    response = client.get(NBO, params={"limit": 100, **params}, headers=manager("m001"))
    assert response.status_code == 200, response.text
    return response.json()["clients"]


# ----------------------------------------------------------------------------------- the API
def test_the_api_orders_by_revenue_at_risk(risk_client: TestClient) -> None:
    by_risk = _clients(risk_client, sort="risk")
    assert sorted(c["client_id"] for c in by_risk) == _portfolio("m001")
    at_stake = [c["revenue_at_risk"] for c in by_risk]
    assert at_stake == sorted(at_stake, reverse=True) and at_stake[0] > 0
    by_value = _clients(risk_client)
    values = [c["expected_value"] for c in by_value]
    assert values == sorted(values, reverse=True)
    assert [c["client_id"] for c in by_risk] != [c["client_id"] for c in by_value]
    first = by_risk[0]
    assert first["risk"]["band"] in ("low", "medium", "high")
    assert 0 < first["risk"]["probability"] <= 1


def test_the_risk_filter_keeps_the_band(risk_client: TestClient) -> None:
    high = _clients(risk_client, risk="high")
    assert high and {c["risk"]["band"] for c in high} == {"high"}
    assert "c000" in {c["client_id"] for c in high}
    both = _clients(risk_client, risk=["high", "medium"])
    assert {c["risk"]["band"] for c in both} <= {"high", "medium"} and len(both) >= len(high)
    bad = risk_client.get(NBO, params={"risk": "extreme"}, headers=manager("m001"))
    assert bad.status_code == 422


def test_retention_offers_say_why_the_client_is_at_risk(risk_client: TestClient) -> None:
    c000 = next(c for c in _clients(risk_client, k=5) if c["client_id"] == "c000")
    retention = [o for o in c000["offers"] if o["reasons"][0].startswith("удержание")]
    assert retention, c000
    reason = retention[0]["reasons"][0]
    assert "высокий риск ухода клиента" in reason
    assert all(driver in reason for driver in c000["risk"]["drivers"])
    english = risk_client.get(
        NBO, params={"k": 5}, headers={**manager("m001"), "Accept-Language": "en"}
    ).json()["clients"]
    c000_en = next(c for c in english if c["client_id"] == "c000")
    assert any(o["reasons"][0].startswith("retention: high risk") for o in c000_en["offers"])
    low = next(c for c in _clients(risk_client, k=5) if c["client_id"] == "c002")
    assert not any("удержание" in r for o in low["offers"] for r in o["reasons"])


def test_without_a_churn_model_risk_orders_and_filters_are_refused(client: TestClient) -> None:
    plain = client.get(NBO, headers=manager("m001"))
    assert plain.status_code == 200
    assert plain.json()["churn_model_version"] is None
    assert "churn model not loaded" in plain.json()["churn_problem"]
    assert all(c["risk"] is None for c in plain.json()["clients"])
    for params in ({"sort": "risk"}, {"risk": "high"}):
        refused = client.get(NBO, params=params, headers=manager("m001"))
        assert refused.status_code == 503
        assert "churn model not loaded" in refused.json()["detail"]


def _export(client: TestClient) -> pd.DataFrame:
    response = client.get(
        "/v1/managers/m001/next-best-offers.csv", params={"k": 5}, headers=manager("m001")
    )
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)


def test_the_cabinet_lists_what_the_export_lists_with_the_retention_boost(
    settings: ServingSettings, churn_dir: Path
) -> None:
    """One policy: the retention boost applies on the cabinet path too. A strong boost and a
    Profi top tier at two services, so that retention offers do move in this small catalog."""
    strong = settings.model_copy(
        update={
            "churn_model_dir": churn_dir,
            "retention_boost": 5.0,
            "profi_thresholds": {"basic": 0, "profi": 2},
        }
    )
    with TestClient(create_app(strong.model_copy(update={"retention_boost": 0.0}))) as off:
        unboosted = _export(off).set_index("client_id")
    with TestClient(create_app(strong), raise_server_exceptions=False) as client:
        export = _export(client)
        columns = [f"offer_{j}" for j in range(1, 6)]
        boosted = export.set_index("client_id")
        moved = (boosted[columns] != unboosted.loc[boosted.index, columns]).any(axis=1)
        assert moved.any(), "the boost must change some list, or this test proves nothing"
        for row in export.to_dict("records"):
            answer = client.get(
                f"/v1/clients/{row['client_id']}/recommendations",
                params={"k": 5, "explain": "true"},
                headers=manager("m001"),
            ).json()
            exported = [row[c] for c in columns if row.get(c)]
            assert [i["item_id"] for i in answer["items"]] == exported, row["client_id"]
            # the client's own cabinet never tells it that it is at risk
            said = [r for i in answer["items"] for r in i.get("reasons", [])]
            assert said and not any("удержание" in r for r in said)


# ---------------------------------------------------------------------------- page, exports
def test_the_page_shows_risk_and_profi_and_orders_by_risk(risk_client: TestClient) -> None:
    page = risk_client.get("/managers/m001?sort=risk", headers=manager("m001"))
    assert page.status_code == 200
    assert "Риск ухода" in page.text and "Программа «Профи»" in page.text
    assert "высокий риск" in page.text
    rows = [client_id for client_id, _ in nbo_rows(page.text)]
    api = [c["client_id"] for c in _clients(risk_client, sort="risk", k=3)]
    assert rows == api
    high = risk_client.get("/managers/m001?risk=high", headers=manager("m001"))
    assert [c for c, _ in nbo_rows(high.text)] == [
        c["client_id"] for c in _clients(risk_client, risk="high", k=3)
    ]
    english = risk_client.get(
        "/managers/m001", headers={**manager("m001"), "Accept-Language": "en"}
    )
    assert "Churn risk" in english.text and "high risk" in english.text


def test_the_client_page_shows_the_drivers(risk_client: TestClient) -> None:
    page = risk_client.get("/managers/m001/clients/c000", headers=manager("m001"))
    assert page.status_code == 200
    drivers = risk_client.get("/v1/clients/c000/churn-risk", headers=admin()).json()["drivers"]
    assert drivers and all(d in page.text for d in drivers)
    assert 'id="client-profi"' in page.text


def test_the_page_without_a_churn_model_says_why(client: TestClient) -> None:
    page = client.get("/managers/m001?sort=risk", headers=manager("m001"))
    assert page.status_code == 200
    assert "Риск ухода не показан" in page.text


def test_exports_carry_the_risk_in_the_chosen_order(risk_client: TestClient) -> None:
    url = "/v1/managers/m001/next-best-offers"
    csv = risk_client.get(f"{url}.csv", params={"sort": "risk"}, headers=manager("m001"))
    frame = pd.read_csv(io.StringIO(csv.text))
    assert set(RISK_COLUMNS) <= set(frame.columns)
    assert {"services", "profi_tier"} <= set(frame.columns)
    at_stake = frame["revenue_at_risk"].tolist()
    assert at_stake == sorted(at_stake, reverse=True)
    assert list(frame["position"]) == list(range(1, len(frame) + 1))
    c000 = frame.set_index("client_id").loc["c000"]
    assert c000["churn_band"] == "high"
    assert c000["revenue_at_risk"] == pytest.approx(c000["spend"] * c000["churn_probability"], 1e-3)
    xlsx = risk_client.get(f"{url}.xlsx", params={"risk": "high"}, headers=manager("m001"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert set(RISK_COLUMNS) <= set(header)
    bands = [
        row[header.index("churn_band")] for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert bands and set(bands) == {"high"}


def test_exports_sorted_by_risk_need_a_churn_model(client: TestClient) -> None:
    response = client.get(
        "/v1/managers/m001/next-best-offers.csv", params={"sort": "risk"}, headers=manager("m001")
    )
    assert response.status_code == 503
    assert "churn model not loaded" in response.json()["detail"]
