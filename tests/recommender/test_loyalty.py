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
    p = tier_progress(half, "silver")
    assert p.next_tier == "gold"
    assert p.progress == pytest.approx(0.5)
    assert p.needed == pytest.approx(half)


def test_passed_threshold_is_full_and_top_tier_has_no_next() -> None:
    assert tier_progress(TIER_THRESHOLDS["gold"] * 2, "bronze").progress == 1.0
    top = tier_progress(0, "platinum")
    assert top.next_tier is None and "top tier" in top.label


def test_unknown_tier_falls_back_to_spend() -> None:
    assert tier_progress(TIER_THRESHOLDS["silver"], None).tier == "silver"
    assert tier_progress(TIER_THRESHOLDS["silver"], "diamond").tier == "silver"
