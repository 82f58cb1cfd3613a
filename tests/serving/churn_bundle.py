"""A real churn-risk bundle for the serving tests' clients (``c000`` .. ``c058``).

The model is fitted for real on a small synthetic data set (``recommender.churn``); the score
table then gives the serving fixture's clients the features and probabilities of synthetic
clients picked for their risk, so each test knows a client's band: ``c000`` high, ``c001``
medium, ``c002`` low, ``c003`` holds no tariff; ``c059`` is not in the table (a client newer
than the model's data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.churn import BacktestSettings, EventLog, ScoreTable, fit_final, score_clients
from recommender.churn.bands import RiskBands
from recommender.synthetic import SyntheticConfig, generate

BANDS = RiskBands()
N_SCORED = 59  # c000 .. c058


def _pick(scores: ScoreTable, low: float, high: float, taken: set[int]) -> int:
    rows = np.flatnonzero(
        scores.at_risk & (scores.probability >= low) & (scores.probability < high)
    )
    free = [int(r) for r in rows if int(r) not in taken]
    if not free:
        raise AssertionError(f"no synthetic client with risk in [{low}, {high})")
    taken.add(free[0])
    return free[0]


def fit_churn_bundle(directory: Path, seed: int = 5, shift: float = 0.0) -> Path:
    """Fit, score and save a bundle into ``directory``; ``shift`` moves every probability
    (a second, different version for reload tests)."""
    data = generate(SyntheticConfig(n_clients=3_000, seed=seed))
    log = EventLog.from_frames(data.interactions, data.clients, data.items)
    model, as_of = fit_final(log, BacktestSettings())
    scored = score_clients(model, log, as_of)
    taken: set[int] = set()
    first = [
        _pick(scored, BANDS.high, 1.01, taken),
        _pick(scored, BANDS.medium, BANDS.high, taken),
        _pick(scored, 0.0, BANDS.medium, taken),
    ]
    no_tariff = int(np.flatnonzero(~scored.at_risk)[0])
    rest = [int(r) for r in np.flatnonzero(scored.at_risk) if int(r) not in taken]
    rng = np.random.default_rng(seed)
    rows = np.array([*first, no_tariff, *rng.choice(rest, N_SCORED - 4, replace=False)])
    probability = np.clip(scored.probability[rows] + shift, 0.0, 1.0)
    table = ScoreTable(
        np.array([f"c{n:03d}" for n in range(N_SCORED)]),
        scored.at_risk[rows],
        np.where(scored.at_risk[rows], probability, np.nan),
        scored.features[rows],
        scored.as_of,
    )
    folder = model.save(directory)
    table.save(folder)
    return folder
