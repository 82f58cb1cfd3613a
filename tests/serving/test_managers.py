"""A manager's next-best offers: the whole portfolio is ranked before ``limit`` cuts it."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import admin, make_frames, manager


def _portfolio(manager_id: str) -> list[str]:
    clients, _ = make_frames()
    return sorted(clients.loc[clients["manager_id"] == manager_id, "client_id"])


def test_limit_keeps_the_best_opportunities_not_the_first_ids(client: TestClient) -> None:
    everyone = client.get(
        "/v1/managers/m001/next-best-offers", params={"limit": 100}, headers=manager("m001")
    ).json()["clients"]
    assert sorted(c["client_id"] for c in everyone) == _portfolio("m001")
    values = [c["expected_value"] for c in everyone]
    assert values == sorted(values, reverse=True)
    best = client.get(
        "/v1/managers/m001/next-best-offers", params={"limit": 5}, headers=manager("m001")
    ).json()["clients"]
    assert best == everyone[:5]
    # the five best are not simply the five first ids (else this test could not fail)
    assert [c["client_id"] for c in best] != _portfolio("m001")[:5]
    assert all(offer["reasons"] for c in best for offer in c["offers"])


def test_export_cap_keeps_the_best_opportunities(settings: ServingSettings, tmp_path: Path) -> None:
    def export(cap: int) -> pd.DataFrame:
        capped = settings.model_copy(update={"max_manager_clients": cap})
        with TestClient(create_app(capped), raise_server_exceptions=False) as client:
            response = client.get("/v1/managers/m001/next-best-offers.csv", headers=admin())
        assert response.status_code == 200, response.text
        return pd.read_csv(io.StringIO(response.text))

    full, capped = export(500), export(4)
    assert len(full) == len(_portfolio("m001"))
    assert list(capped["client_id"]) == list(full["client_id"][:4])
    assert list(capped["client_id"]) != _portfolio("m001")[:4]


def test_the_cabinet_api_and_the_export_list_the_same_offers_in_the_same_order(
    client: TestClient,
) -> None:
    """One policy: every client of a portfolio gets in the export what the API answers it."""
    response = client.get(
        "/v1/managers/m001/next-best-offers.csv", params={"k": 5}, headers=manager("m001")
    )
    assert response.status_code == 200, response.text
    export = pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)
    assert sorted(export["client_id"]) == _portfolio("m001")
    offer_columns = [f"offer_{j}" for j in range(1, 6)]
    for row in export.to_dict("records"):
        answer = client.get(
            f"/v1/clients/{row['client_id']}/recommendations",
            params={"k": 5},
            headers=manager("m001"),
        )
        assert answer.status_code == 200, answer.text
        api = [item["item_id"] for item in answer.json()["items"]]
        exported = [row[c] for c in offer_columns if row.get(c)]
        assert api == exported, row["client_id"]
