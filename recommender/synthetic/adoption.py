"""Which offers each client adopts and when: the heart of the generative story.

1. **Own choice.** Each client scores every offer it may buy:
   ``log(base popularity) + THEME_W * log(taste . theme) + ECO_W * ecosystem match
   + INDUSTRY_W * industry need + LEARN_W * log(learning) * is_course - TIER_W * |level - tier|``
   and draws ``Poisson(activity)`` offers without replacement (Gumbel top-k), at most one tier
   per tariff family and only offers without prerequisites, at uniform times in its active window.
2. **Follow-ups.** Funnels (a completed course -> its service), bundles (services used together)
   and prerequisite chains (a completed course -> the course that requires it) fire with a
   probability scaled by the client's taste for the target, some weeks after the source, and
   only where the target's prerequisites are already met and its tariff family is free.
Courses are completed with a probability rising with the learning propensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.synthetic import story
from recommender.synthetic.clients import ClientChunk
from recommender.synthetic.offers import OfferArrays

THEME_W = 2.0
ECO_W = 1.6
INDUSTRY_W = 0.8
LEARN_W = 1.0
TIER_W = 1.2
FOLLOW_UP_PASSES = 3
NEVER = np.inf


@dataclass(eq=False)
class Adoptions:
    """Dense (clients x offers) state of one chunk; times are days from the window start."""

    owned: np.ndarray  # bool: ever adopted
    start: np.ndarray  # float: purchase / enrolment / subscription start, NEVER if not owned
    done: np.ndarray  # float: course completion, NEVER if not completed
    score: np.ndarray  # float: the client's deterministic interest, drives views too


def interest(clients: ClientChunk, offers: OfferArrays) -> np.ndarray:
    """(n, I) interest score; ``-inf`` where the client's segment may not buy the offer."""
    affinity = clients.taste[:, offers.theme]
    score = offers.log_base[None, :] + THEME_W * np.log(affinity + 0.02)
    for code, (line, chosen) in enumerate(clients.ecosystem.items()):
        del line
        in_line = offers.eco_line == code
        match = chosen[:, None] == offers.eco_member[None, :]
        score += ECO_W * np.where(in_line[None, :], np.where(match, 1.0, -1.0), 0.0)
    score += INDUSTRY_W * offers.industry_fit[clients.industry]
    score += LEARN_W * np.log(clients.learning)[:, None] * offers.is_course[None, :]
    tier_gap = np.abs(clients.level[:, None] - offers.tier[None, :])
    score -= TIER_W * np.where(offers.is_tariff[None, :], tier_gap, 0.0)
    return np.where(offers.eligible(clients.b2g), score, -np.inf)


def adopt(
    rng: np.random.Generator, clients: ClientChunk, offers: OfferArrays, window_days: float
) -> Adoptions:
    """Own choices, then follow-ups; see the module docstring."""
    n, n_items = len(clients), offers.n_items
    score = interest(clients, offers)
    active_from = clients.active_from
    active_share = (window_days - active_from) / window_days
    mean = np.asarray(story.SIZE_ACTIVITY)[clients.size] * clients.activity * active_share
    count = rng.poisson(mean)

    noisy = score + rng.gumbel(size=score.shape)
    noisy[:, ~offers.root] = -np.inf
    for members in offers.families:  # at most one tier per family
        best = members[np.argmax(noisy[:, members], axis=1)]
        keep = np.zeros((n, n_items), dtype=bool)
        keep[np.arange(n), best] = True
        drop = np.zeros(n_items, dtype=bool)
        drop[members] = True
        noisy[drop[None, :] & ~keep] = -np.inf
    order = np.argsort(-noisy, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(n_items)[None, :]
    # Column-major: the story below works offer by offer, i.e. on columns.
    owned = np.asfortranarray((rank < count[:, None]) & np.isfinite(noisy))

    uniform = rng.random((n, n_items))
    when = active_from[:, None] + uniform * (window_days - active_from)[:, None]
    start = np.asfortranarray(np.where(owned, when, NEVER))
    done = np.full((n, n_items), NEVER, order="F")
    for item in np.flatnonzero(offers.is_course).tolist():
        done[:, item] = _completion(
            rng, clients, offers, item, owned[:, item], start[:, item], window_days
        )
    _follow_ups(rng, clients, offers, score, owned, start, done, window_days)
    return Adoptions(owned=owned, start=start, done=done, score=score)


def _completion(
    rng: np.random.Generator,
    clients: ClientChunk,
    offers: OfferArrays,
    item: int,
    enrolled: np.ndarray,
    start: np.ndarray,
    window_days: float,
) -> np.ndarray:
    """Completion day of course ``item`` per client (``NEVER``: dropped out or not yet done)."""
    n = len(clients)
    p_complete = np.clip(0.75 + 0.2 * np.log(clients.learning), 0.3, 0.97)
    finish = start + offers.duration[item] * (1.0 + rng.random(n)) + 0.01
    ok = enrolled & (rng.random(n) < p_complete) & (finish < window_days)
    return np.where(ok, finish, NEVER)


def _follow_ups(
    rng: np.random.Generator,
    clients: ClientChunk,
    offers: OfferArrays,
    score: np.ndarray,
    owned: np.ndarray,
    start: np.ndarray,
    done: np.ndarray,
    window_days: float,
) -> None:
    """Apply funnels, bundles and course chains in a few passes (so chains can cascade)."""
    n = len(clients)
    eligible = np.asfortranarray(np.isfinite(score))
    family_held = np.zeros((n, len(offers.families)), dtype=bool)
    for code, members in enumerate(offers.families):
        family_held[:, code] = owned[:, members].any(axis=1)
    for _ in range(FOLLOW_UP_PASSES):
        for source, target, p, lag in offers.rules:
            when = done[:, source] if offers.is_course[source] else start[:, source]
            chance = p * np.clip(0.3 + 2.0 * clients.taste[:, offers.theme[target]], 0.0, 2.5)
            if offers.is_course[target]:
                chance = chance * np.clip(clients.learning, 0.3, 2.0)
            then = when + 1.0 + rng.exponential(lag, n)
            fire = (
                np.isfinite(when)
                & ~owned[:, target]
                & eligible[:, target]
                & (rng.random(n) < chance)
                & (then < window_days)
            )
            family = offers.family[target]
            if family >= 0:
                fire &= ~family_held[:, family]
            for pre in offers.prerequisites[target]:
                ready = done[:, pre] if offers.is_course[pre] else start[:, pre]
                fire &= ready < then
            owned[:, target] |= fire
            start[:, target] = np.where(fire, then, start[:, target])
            if family >= 0:
                family_held[:, family] |= fire
            if offers.is_course[target]:
                finish = _completion(rng, clients, offers, target, fire, then, window_days)
                done[:, target] = np.where(fire, finish, done[:, target])
