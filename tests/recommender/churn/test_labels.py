"""Who is at risk and who churned, on a hand-made event log."""

import pandas as pd
import pytest

from recommender.churn import ChurnDataError, ChurnDefinition, EventLog
from recommender.churn.labels import outcomes

ITEMS = pd.DataFrame(
    {
        "item_id": ["sup_basic", "sup_premium", "backup", "course"],
        "kind": ["tariff", "tariff", "addon", "course"],
        "family": ["support", "support", None, None],
        "price": [100.0, 300.0, 20.0, 50.0],
    }
)
CUTOFF = "2024-06-01"


def _day(stamp: str) -> float:
    """A UTC time as days from the Unix epoch (the scale of ``EventLog`` and ``outcomes``)."""
    return pd.Timestamp(stamp, tz="UTC").value / (86_400 * 10**9)


def _log(rows: list[tuple[str, str, str, str]]) -> EventLog:
    frame = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
    frame["value"] = 1.0
    return EventLog.from_frames(frame, None, ITEMS)


EVENTS = [
    ("leaver", "sup_basic", "subscription_start", "2024-01-10"),
    ("leaver", "sup_basic", "cancellation", "2024-07-01"),
    ("upgrader", "sup_basic", "subscription_start", "2024-01-10"),
    ("upgrader", "sup_basic", "cancellation", "2024-07-01 00:00"),
    ("upgrader", "sup_premium", "subscription_start", "2024-07-01 00:01"),
    ("learner", "course", "enrolment", "2024-02-01"),
    ("late", "sup_basic", "subscription_start", "2024-01-10"),
    ("late", "sup_basic", "cancellation", "2024-09-15"),
    ("quiet", "sup_basic", "subscription_start", "2024-01-10"),
    ("quiet", "backup", "purchase", "2024-03-01"),
    ("end", "backup", "purchase", "2024-12-31"),
]


def test_cancelling_every_tariff_in_the_horizon_is_churn_a_tier_move_is_not() -> None:
    log = _log(EVENTS)
    result = outcomes(log, _day(CUTOFF), ChurnDefinition(horizon_days=90))
    risk = {c: bool(result.at_risk[log.row_of[c]]) for c in log.row_of}
    churned = {c: bool(result.churned[log.row_of[c]]) for c in log.row_of}
    assert risk == {
        "leaver": True, "upgrader": True, "learner": False, "late": True, "quiet": True,
        "end": False,
    }  # fmt: skip
    assert [c for c, v in churned.items() if v] == ["leaver"]
    assert log.move[(log.client == log.row_of["upgrader"]) & (log.type == 3)].tolist() == [1]


def test_silence_counts_when_asked() -> None:
    log = _log(EVENTS)
    result = outcomes(log, _day(CUTOFF), ChurnDefinition(horizon_days=90, silence=True))
    churned = {c for c in log.row_of if result.churned[log.row_of[c]]}
    # "late" and "quiet" record nothing in the horizon; "upgrader" moves tiers within it
    assert churned == {"leaver", "late", "quiet"}


def test_unknowable_or_impossible_outcomes_are_clear_errors() -> None:
    log = _log(EVENTS)
    with pytest.raises(ChurnDataError, match="before the horizon"):
        outcomes(log, _day("2024-12-01"), ChurnDefinition(horizon_days=90))
    no_cancel = _log([e for e in EVENTS if e[2] != "cancellation"])
    with pytest.raises(ChurnDataError, match="no cancellation"):
        outcomes(no_cancel, _day(CUTOFF), ChurnDefinition())
    with pytest.raises(ValueError, match="horizon_days"):
        ChurnDefinition(horizon_days=0)
