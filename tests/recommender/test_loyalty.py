"""Loyalty tiers from yearly spend."""

from __future__ import annotations

import pytest

from recommender.loyalty import TIER_THRESHOLDS, tier_of_spend, tier_progress


def test_tier_of_spend_uses_thresholds() -> None:
    assert tier_of_spend(0) == "bronze"
    assert tier_of_spend(TIER_THRESHOLDS["silver"]) == "silver"
    assert tier_of_spend(TIER_THRESHOLDS["gold"] - 1) == "silver"
    assert tier_of_spend(10 * TIER_THRESHOLDS["platinum"]) == "platinum"


def test_progress_toward_next_tier() -> None:
    half = TIER_THRESHOLDS["gold"] / 2
    p = tier_progress(half, "silver")  # half of gold is silver
    assert p.next_tier == "gold"
    assert p.progress == pytest.approx(0.5)
    assert p.needed == pytest.approx(half)


def test_the_tier_comes_from_the_spend_and_a_disagreeing_crm_tier_is_shown() -> None:
    rich = tier_progress(TIER_THRESHOLDS["gold"] * 2, "bronze")  # spend says gold
    assert (rich.tier, rich.next_tier, rich.stated) == ("gold", "platinum", "bronze")
    assert rich.progress < 1.0 and "CRM says bronze" in rich.label
    poor = tier_progress(59_000, "platinum")  # the contradiction a new user found
    assert (poor.tier, poor.stated) == ("bronze", "platinum")
    assert tier_progress(59_000, "bronze").stated is None
    top = tier_progress(TIER_THRESHOLDS["platinum"], "platinum")
    assert top.next_tier is None and "top tier" in top.label


def test_progress_is_never_full_below_the_top() -> None:
    for spend in (0.0, 1.0, 249_999.0, 250_000.0, 999_999.0, 2_999_999.0):
        p = tier_progress(spend, "bronze")
        assert p.next_tier is not None and 0.0 <= p.progress < 1.0 and p.needed > 0


def test_unknown_tier_falls_back_to_spend() -> None:
    assert tier_progress(TIER_THRESHOLDS["silver"], None).tier == "silver"
    assert tier_progress(TIER_THRESHOLDS["silver"], "diamond").tier == "silver"
