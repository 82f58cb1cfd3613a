"""Optional exploration of the served lists, and the propensities logged for offline replay.

The logging policy for one answer of ``n`` offers. ``L`` is the full ranked list of eligible
offers for the request (the kernel's top-k with k = every offer, so every business rule holds
and any subset of ``L`` is a valid answer); ``D = L[:n]`` is the deterministic answer and
``C = L[n:]`` the ``c = len(C)`` eligible offers it leaves out. Slot 0 always shows ``D[0]``.
For each later slot ``j = 1 .. n-1`` in turn, with probability ``epsilon`` (and while ``C``
still holds an offer not shown yet) the slot shows an offer drawn uniformly from those, else it
shows ``D[j]``. Draws use a generator seeded by the request id, so an answer is reproducible.

Every heads succeeds until ``C`` runs out, so with ``B(m) ~ Binomial(m, epsilon)`` the
probability that an offer is shown at all is:

- ``D[0]``: 1;
- ``D[j]``, ``j >= 1``: ``1 - epsilon * P(B(j - 1) < c)`` (slot ``j`` still had a draw);
- an offer of ``C``: ``E[min(B(n - 1), c)] / c`` (the draws form a uniform subset of ``C``).

(When ``c >= n - 1`` these are ``1 - epsilon`` and ``(n - 1) * epsilon / c``.) They sum to ``n``.

The logged ``propensity`` is that probability divided by ``n``: the chance that a slot picked
uniformly from the answer holds the offer. That is the scale ``recommender.experiments.replay``
works on (its deterministic top-k candidate puts ``1/k`` on each of its offers), so the IPS
weight ``candidate / propensity`` is right as logged: the deterministic answer (``epsilon = 0``)
logs ``1/n`` per offer, and replaying it on itself gives weight 1, its own click rate.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np


def _below(m: int, c: int, epsilon: float) -> float:
    """``P(Binomial(m, epsilon) < c)``."""
    if c > m:
        return 1.0
    return sum(math.comb(m, r) * epsilon**r * (1 - epsilon) ** (m - r) for r in range(c))


@lru_cache(maxsize=4096)
def inclusion(n: int, c: int, epsilon: float) -> tuple[tuple[float, ...], float]:
    """Probability of being shown for ``D[0..n-1]``, and for any one offer of ``C``."""
    if n <= 0:
        return (), 0.0
    if epsilon <= 0 or c <= 0:
        return (1.0,) * n, 0.0
    kept = [1.0] + [1.0 - epsilon * _below(j - 1, c, epsilon) for j in range(1, n)]
    drawn = sum(epsilon * _below(j - 1, c, epsilon) for j in range(1, n))  # E[min(B(n-1), c)]
    return tuple(kept), drawn / c


def seed_of(request_id: str) -> int:
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")


def explore(n_pool: int, n: int, epsilon: float, request_id: str) -> tuple[np.ndarray, list[float]]:
    """Positions in ``L`` of the ``n`` offers shown, and the propensity logged for each."""
    chosen = np.arange(n, dtype=np.int64)
    c = n_pool - n
    kept, drawn = inclusion(n, c, epsilon)
    if epsilon <= 0 or c <= 0 or n <= 1:
        return chosen, [p / n for p in kept]
    rng = np.random.default_rng(seed_of(request_id))
    heads = np.flatnonzero(rng.random(n - 1) < epsilon)[:c] + 1
    replaced = np.zeros(n, dtype=np.bool_)
    if len(heads):
        chosen[heads] = n + rng.choice(c, size=len(heads), replace=False)
        replaced[heads] = True
    propensities = [(drawn if replaced[j] else kept[j]) / n for j in range(n)]
    return chosen, propensities
