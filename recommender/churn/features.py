"""Churn features of every client as of a cut-off, from the events *before* it only.

Each feature reads a prefix or a window of the time-sorted ``EventLog`` that ends at the
cut-off (binary search on the event days), never anything at or after it. A feature that does
not apply is NaN (``days_since_usage`` of a client that never reported usage), which LightGBM
routes on its own. The attributes (industry, segment, size, loyalty tier) are codes into
``Vocabularies``, fixed at training and stored with the model, so scoring codes them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.churn.events import TYPE, EventLog
from recommender.churn.holdings import holdings_at
from recommender.domain import INDUSTRIES, LOYALTY_TIERS, SIZE_BANDS

RECENT_DAYS = 90.0
YEAR_DAYS = 365.0

#: Feature names, in matrix column order.
FEATURES: tuple[str, ...] = (
    "tenure_days",
    "tariffs",
    "addons",
    "services",
    "courses_held",
    "kinds",
    "spend",
    "usage_90",
    "usage_prev_90",
    "usage_change",
    "usage_reports_90",
    "usage_reports_prev_90",
    "days_since_usage",
    "views_90",
    "views_365",
    "days_since_view",
    "cancels_365",
    "downgrades_365",
    "upgrades_365",
    "adoptions_180",
    "completions_365",
    "completions_ever",
    "days_since_completion",
    "days_since_event",
    "industry",
    "segment",
    "size",
    "loyalty",
)
#: Columns LightGBM treats as unordered categories.
CATEGORICAL: tuple[str, ...] = ("industry", "segment")
COLUMN = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Vocabularies:
    """The values of each coded attribute, in code order."""

    industry: tuple[str, ...] = INDUSTRIES
    segment: tuple[str, ...] = ("B2B", "B2G")
    size: tuple[str, ...] = SIZE_BANDS
    loyalty: tuple[str, ...] = LOYALTY_TIERS
    columns: dict[str, str] = field(
        default_factory=lambda: {
            "industry": "industry",
            "segment": "segment",
            "size": "size_band",
            "loyalty": "loyalty_tier",
        }
    )

    @classmethod
    def of(cls, log: EventLog) -> Vocabularies:
        """The default vocabularies plus any industry the data add (sorted, after them)."""
        extra: list[str] = []
        if "industry" in log.clients:
            found = {str(v) for v in log.clients["industry"].dropna().tolist()}
            extra = sorted(found - set(INDUSTRIES) - {""})
        return cls(industry=(*INDUSTRIES, *extra))

    def to_json(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in self.columns}

    @classmethod
    def from_json(cls, raw: dict[str, list[str]]) -> Vocabularies:
        def values(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in raw[name])

        return cls(values("industry"), values("segment"), values("size"), values("loyalty"))


def _window_counts(
    log: EventLog, kinds: tuple[str, ...], start: float, end: float, weights: bool = False
) -> np.ndarray:
    """Per client: the number (or value sum) of events of ``kinds`` with start <= day < end."""
    lo, hi = np.searchsorted(log.day, [start, end], side="left")
    codes = np.array([TYPE[k] for k in kinds])
    keep = np.isin(log.type[lo:hi], codes)
    client = log.client[lo:hi][keep]
    w = log.value[lo:hi][keep] if weights else None
    return np.bincount(client, weights=w, minlength=log.n_clients).astype(np.float64)


def _days_since(log: EventLog, kinds: tuple[str, ...] | None, cutoff: float) -> np.ndarray:
    """Per client: days from its last event of ``kinds`` (None: any) to the cut-off; NaN if none."""
    end = int(np.searchsorted(log.day, cutoff, side="left"))
    keep = np.ones(end, dtype=bool)
    if kinds is not None:
        keep = np.isin(log.type[:end], np.array([TYPE[k] for k in kinds]))
    last = np.full(log.n_clients, -np.inf)
    np.maximum.at(last, log.client[:end][keep], log.day[:end][keep])
    return np.where(np.isfinite(last), cutoff - last, np.nan)


def _moves(log: EventLog, direction: int, start: float, end: float) -> np.ndarray:
    lo, hi = np.searchsorted(log.day, [start, end], side="left")
    keep = log.move[lo:hi] == direction
    return np.bincount(log.client[lo:hi][keep], minlength=log.n_clients).astype(np.float64)


def feature_matrix(log: EventLog, cutoff: float, vocab: Vocabularies) -> np.ndarray:
    """(n_clients, len(FEATURES)) float32, C-contiguous: every client as of ``cutoff``."""
    n = log.n_clients
    out = np.full((n, len(FEATURES)), np.nan, dtype=np.float64)

    def put(name: str, values: np.ndarray) -> None:
        out[:, COLUMN[name]] = values

    first_seen = np.full(n, np.inf)
    end = int(np.searchsorted(log.day, cutoff, side="left"))
    np.minimum.at(first_seen, log.client[:end], log.day[:end])
    since = np.where(np.isnan(log.signup_day), first_seen, np.minimum(log.signup_day, first_seen))
    put("tenure_days", np.where(np.isfinite(since), cutoff - since, np.nan))

    held = holdings_at(log, cutoff)
    put("tariffs", held.tariffs)
    put("addons", held.addons)
    put("services", held.services)
    put("courses_held", held.courses)
    kinds = (held.tariffs > 0).astype(np.float64) + (held.addons > 0) + (held.courses > 0)
    put("kinds", kinds)
    put("spend", held.spend)

    recent, prior = cutoff - RECENT_DAYS, cutoff - 2 * RECENT_DAYS
    usage = ("usage",)
    use_recent = _window_counts(log, usage, recent, cutoff, weights=True)
    use_prior = _window_counts(log, usage, prior, recent, weights=True)
    put("usage_90", use_recent)
    put("usage_prev_90", use_prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        put("usage_change", np.where(use_prior > 0, use_recent / use_prior - 1.0, np.nan))
    put("usage_reports_90", _window_counts(log, usage, recent, cutoff))
    put("usage_reports_prev_90", _window_counts(log, usage, prior, recent))
    put("days_since_usage", _days_since(log, usage, cutoff))

    put("views_90", _window_counts(log, ("view",), recent, cutoff))
    put("views_365", _window_counts(log, ("view",), cutoff - YEAR_DAYS, cutoff))
    put("days_since_view", _days_since(log, ("view",), cutoff))

    year = cutoff - YEAR_DAYS
    cancels = _window_counts(log, ("cancellation",), year, cutoff)
    downgrades = _moves(log, -1, year, cutoff)
    upgrades = _moves(log, 1, year, cutoff)
    put("cancels_365", cancels - downgrades - upgrades)
    put("downgrades_365", downgrades)
    put("upgrades_365", upgrades)
    half = cutoff - YEAR_DAYS / 2
    adopted = _window_counts(log, ("purchase", "subscription_start", "enrolment"), half, cutoff)
    moves_half = _moves(log, 1, half, cutoff) + _moves(log, -1, half, cutoff)
    put("adoptions_180", adopted - moves_half)
    put("completions_365", _window_counts(log, ("completion",), year, cutoff))
    put("completions_ever", _window_counts(log, ("completion",), -np.inf, cutoff))
    put("days_since_completion", _days_since(log, ("completion",), cutoff))
    put("days_since_event", _days_since(log, None, cutoff))

    for name, column in vocab.columns.items():
        codes = log.codes(column, list(getattr(vocab, name))).astype(np.float64)
        put(name, np.where(codes >= 0, codes, np.nan))
    return np.ascontiguousarray(out, dtype=np.float32)
