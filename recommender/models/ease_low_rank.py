"""A low-rank part added to EASE's item-item weights: sharing that the full-rank model lacks.

EASE (with EDLAE dropout) learns one weight per pair of offers, shrunk towards zero: two offers
seldom owned together get almost nothing from each other even when both go with the same
others. A low-rank projection shares strength along the catalogue's main directions (PureSVD).
The two err differently, and both are item-item matrices, so their sum is served as EASE is
(``item_item``, reasons included) with no second scoring path::

    W = B + a * (rms(X B) / rms(X P)) * P

``P = S V V^T`` with ``S = diag(d^-g)``, ``d`` each offer's owner count plus one, and ``V`` the
top ``rank`` eigenvectors of ``S G S`` (``G = X^T X``): the right singular vectors of the
client x offer matrix with columns scaled by popularity^-g (``scaling``), which keeps the
projection from being the few most owned offers. Its diagonal is set to zero, as EASE's: an
offer never recommends itself. ``rms(X M) = sqrt(trace(M^T G M) / (clients * offers))`` is the
root mean square score of ``M`` over the training clients and offers, so the weight ``a`` is in
units of EASE's own scores and means the same on any data set (the number of clients cancels,
so only ``G`` is needed).

MovieLens-100k (MS protocol, ``benchmarks/quality_ml100k.py``): EASE l2 200, dropout 0.85 scores
test nDCG@10 0.4844; with a part of rank 8-48, scaling 0.15-0.35 and weight 0.3-1.0 every one of
36 settings scored 0.486-0.496. The hide-one validation of ``EASEModel`` picks rank 16, weight
0.5 (validation 0.1124 -> 0.1173; test 0.4887). With client weighting (``EASEConfig``) the
benchmark's tuning picks l2 20, dropout 0.85, weighting 0.75, rank 16, weight 0.5: 0.49998
(0.4733 without the part). On COIL 2000 (22 offers, rank at most 5) validation loses with it
and leaves it off.
"""

from __future__ import annotations

import math

import numpy as np


def low_rank_weights(gram: np.ndarray, rank: int, scaling: float) -> np.ndarray:
    """``P`` (float64, zero diagonal) from the (n, n) Gram matrix ``X^T X``; at most ``n - 1``
    components are used."""
    n = gram.shape[0]
    rank = min(rank, n - 1)
    if rank < 1:
        return np.zeros_like(gram, dtype=np.float64)
    scale = (np.diag(gram) + 1.0) ** -scaling
    _, vectors = np.linalg.eigh(gram * scale[:, None] * scale[None, :])
    top = vectors[:, ::-1][:, :rank]
    weights = (scale[:, None] * top) @ top.T
    np.fill_diagonal(weights, 0.0)
    return weights


def relative_scale(gram: np.ndarray, ease: np.ndarray, low_rank: np.ndarray) -> float:
    """``rms(X B) / rms(X P)`` from ``G = X^T X``: ``sqrt(trace(B^T G B) / trace(P^T G P))``,
    what puts ``P`` in units of EASE's scores (0 when ``P`` scores nothing)."""
    ease_square = float(np.einsum("ij,ij->", gram @ ease, ease))
    low_rank_square = float(np.einsum("ij,ij->", gram @ low_rank, low_rank))
    if low_rank_square <= 0.0:
        return 0.0
    return math.sqrt(max(ease_square, 0.0) / low_rank_square)
