"""Rank for an experiment arm and log what was shown: the last step of every recommendation."""

from __future__ import annotations

from typing import Any

from recommender.ranking import RankingRules
from serving.deps import exploration, ranking_policy
from serving.experiments import Arm
from serving.exposures import log_answer
from serving.recommend import ClientContext, Narrator, Ranking, rank
from serving.settings import ServingSettings


def rank_and_log(
    app_state: Any,
    settings: ServingSettings,
    arm: Arm,
    ctx: ClientContext,
    rules: RankingRules,
    narrator: Narrator | None,
    client_id: str | None,
    request_id: str,
) -> Ranking:
    """The ranking ``arm.model`` gives ``ctx``, its impressions queued for the event stream."""
    ranking = rank(
        arm.model,
        ctx,
        rules,
        ranking_policy(settings),
        narrator,
        baseline_rows=arm.baseline_rows,
        exploration=exploration(settings, request_id),
    )
    log_answer(
        app_state.exposures,
        settings.log_all_exposures,
        client_id,
        request_id,
        arm.experiment,
        arm.variant,
        [offer.item_id for offer in ranking.offers],
        ranking.propensities,
    )
    return ranking
