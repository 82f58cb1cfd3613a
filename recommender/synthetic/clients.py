"""Synthetic client organisations: visible attributes and hidden tastes, one chunk at a time.

Visible (``CLIENT_COLUMNS``): industry, segment, size band, region, account manager, signup date,
loyalty tier. Hidden (used by the story, never written): a taste over ``catalog.THEMES`` drawn
around the industry's needs, the ecosystem preferred in each competing product line, a learning
propensity (how much the client uses the training centre), a preferred support level and an
overall activity level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from recommender.domain import CLIENT_COLUMNS, INDUSTRIES, LOYALTY_TIERS, SIZE_BANDS
from recommender.synthetic import story

#: How concentrated a client's taste is around its industry's needs; small = more personal.
TASTE_CONCENTRATION = 1.2
_REGION_NAMES = np.asarray(list(story.REGIONS), dtype=object)
_REGION_P = np.asarray(list(story.REGIONS.values())) / sum(story.REGIONS.values())
_INDUSTRY_P = np.asarray([story.INDUSTRY_WEIGHTS[i] for i in INDUSTRIES])
_INDUSTRY_P = _INDUSTRY_P / _INDUSTRY_P.sum()
_B2G_P = np.asarray([story.B2G_SHARE[i] for i in INDUSTRIES])
_THEME_MEAN = np.asarray([story.INDUSTRY_THEMES[i] for i in INDUSTRIES], dtype=np.float64)
_THEME_MEAN = _THEME_MEAN / _THEME_MEAN.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class ClientChunk:
    """A block of clients as arrays; ``signup_day``/``active_from`` are days from window start."""

    index: np.ndarray  # global client numbers, int64
    industry: np.ndarray  # codes into INDUSTRIES
    b2g: np.ndarray  # bool
    size: np.ndarray  # codes into SIZE_BANDS
    region: np.ndarray  # codes into story.REGIONS
    manager: np.ndarray  # manager numbers
    signup_day: np.ndarray  # float, negative = before the window
    loyalty: np.ndarray  # codes into LOYALTY_TIERS
    taste: np.ndarray  # (n, n_themes), rows sum to 1
    ecosystem: dict[str, np.ndarray]  # product line -> chosen member code
    learning: np.ndarray  # learning propensity, ~lognormal around 1
    level: np.ndarray  # preferred support level, float in [0, 3]
    activity: np.ndarray  # overall activity multiplier

    @property
    def active_from(self) -> np.ndarray:
        return np.maximum(self.signup_day, 0.0)

    def __len__(self) -> int:
        return len(self.index)


def draw_clients(
    rng: np.random.Generator, start_index: int, n: int, n_clients_total: int, window_days: float
) -> ClientChunk:
    """Draw ``n`` clients numbered from ``start_index`` (vectorized; no loop per client)."""
    industry = rng.choice(len(INDUSTRIES), size=n, p=_INDUSTRY_P)
    b2g = rng.random(n) < _B2G_P[industry]
    size = np.where(
        b2g,
        rng.choice(len(SIZE_BANDS), size=n, p=story.SIZE_WEIGHTS["B2G"]),
        rng.choice(len(SIZE_BANDS), size=n, p=story.SIZE_WEIGHTS["B2B"]),
    )
    n_managers = max(1, -(-n_clients_total // story.CLIENTS_PER_MANAGER))
    # Most clients are long-standing; a fifth sign up during the first 60 % of the window.
    late = rng.random(n) < 0.2
    signup_day = np.where(
        late, rng.uniform(0.0, 0.6 * window_days, n), -rng.uniform(1.0, 6 * 365.0, n)
    )
    tenure_years = np.maximum(-signup_day, 0.0) / 365.0
    loyalty_score = tenure_years / 2.0 + 0.3 * size + rng.normal(0.0, 0.7, n)
    loyalty = np.digitize(loyalty_score, (1.0, 2.0, 3.0))
    taste = _dirichlet_rows(rng, TASTE_CONCENTRATION * _THEME_MEAN[industry])
    ecosystem = {
        line: np.where(
            b2g,
            rng.choice(len(weights["B2G"]), size=n, p=_norm(weights["B2G"])),
            rng.choice(len(weights["B2B"]), size=n, p=_norm(weights["B2B"])),
        )
        for line, weights in story.ECOSYSTEMS.items()
    }
    return ClientChunk(
        index=np.arange(start_index, start_index + n, dtype=np.int64),
        industry=industry,
        b2g=b2g,
        size=size,
        region=rng.choice(len(_REGION_NAMES), size=n, p=_REGION_P),
        manager=rng.integers(0, n_managers, n),
        signup_day=signup_day,
        loyalty=loyalty,
        taste=taste,
        ecosystem=ecosystem,
        learning=rng.lognormal(0.0, 0.6, n),
        level=np.clip(0.45 * size + rng.normal(0.0, 0.6, n), 0.0, 3.0),
        activity=rng.lognormal(0.0, 0.35, n),
    )


def _norm(weights: tuple[float, ...]) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (numpy's dirichlet takes one alpha only)."""
    gamma = rng.gamma(alpha)
    return gamma / np.maximum(gamma.sum(axis=1, keepdims=True), 1e-300)


def client_ids(index: np.ndarray, n_clients_total: int) -> np.ndarray:
    """External ids ``c0000001``-style, zero-padded to the width of the largest number."""
    width = max(6, len(str(n_clients_total)))
    return np.asarray([f"c{i + 1:0{width}d}" for i in index.tolist()], dtype=object)


def clients_frame(chunk: ClientChunk, start: date, n_clients_total: int) -> pd.DataFrame:
    """The visible attributes: columns exactly ``CLIENT_COLUMNS``."""
    width = max(3, len(str(-(-n_clients_total // story.CLIENTS_PER_MANAGER))))
    managers = np.asarray([f"m{i + 1:0{width}d}" for i in range(int(chunk.manager.max()) + 1)])
    signup = np.datetime64(start, "D") + np.floor(chunk.signup_day).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "client_id": client_ids(chunk.index, n_clients_total),
            "industry": np.asarray(INDUSTRIES, dtype=object)[chunk.industry],
            "segment": np.where(chunk.b2g, "B2G", "B2B").astype(object),
            "size_band": np.asarray(SIZE_BANDS, dtype=object)[chunk.size],
            "region": _REGION_NAMES[chunk.region],
            "manager_id": managers.astype(object)[chunk.manager],
            "signup_date": pd.Series(signup).dt.date.to_numpy(dtype=object),
            "loyalty_tier": np.asarray(LOYALTY_TIERS, dtype=object)[chunk.loyalty],
        }
    )
    return frame[list(CLIENT_COLUMNS)]
