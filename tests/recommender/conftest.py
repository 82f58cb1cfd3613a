"""A small catalog with every business rule in it, shared by core tests."""

import pandas as pd
import pytest

from recommender.dataset import Dataset


@pytest.fixture
def rules_dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "item_id": ["sup_basic", "sup_premium", "course_a", "course_b", "backup", "gov_only"],
            "name": ["Basic", "Premium", "Linux 1", "Linux 2", "Backup", "Gov cloud"],
            "kind": ["tariff", "tariff", "course", "course", "addon", "addon"],
            "family": ["support", "support", None, None, None, None],
            "price": [100.0, 300.0, 50.0, 70.0, 20.0, 40.0],
            "margin": [0.2, 0.4, 0.5, 0.5, 0.3, 0.3],
            "eligibility": ["both", "both", "both", "both", "both", "B2G"],
            "prerequisites": [[], [], [], ["course_a"], ["sup_basic"], []],
            "vendor": ["integrator"] * 6,
            "tags": [["support"], ["support"], ["linux"], ["linux"], ["backup"], ["cloud"]],
        }
    )
    clients = pd.DataFrame(
        {
            "client_id": ["c1", "c2"],
            "industry": ["finance", "government"],
            "segment": ["B2B", "B2G"],
        }
    )
    events = pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c2"],
            "item_id": ["sup_basic", "course_a", "backup"],
            "event_type": ["subscription_start", "enrolment", "purchase"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
        }
    )
    return Dataset.from_frames(events, clients, items)
