"""The "Profi" programme: tiers by services in use, progress, configurable thresholds."""

import pytest

from recommender.loyalty import PROFI_TIERS, check_profi_tiers, profi_progress


def test_profi_starts_at_three_services() -> None:
    assert PROFI_TIERS["profi"] == 3
    assert profi_progress(2).tier == "basic"
    two = profi_progress(2)
    assert (two.next_tier, two.needed, two.progress) == ("profi", 1, pytest.approx(2 / 3))
    assert profi_progress(3).tier == "profi"
    top = profi_progress(7)
    assert (top.tier, top.next_tier, top.needed) == ("profi_plus", None, 0)
    assert "1 to go" in two.label


def test_thresholds_are_configurable_and_checked() -> None:
    tiers = {"start": 0, "pro": 2}
    assert profi_progress(2, tiers).tier == "pro"
    with pytest.raises(ValueError, match="must increase"):
        check_profi_tiers({"a": 0, "b": 3, "c": 3})
    with pytest.raises(ValueError, match="start at 0"):
        check_profi_tiers({"a": 1})
