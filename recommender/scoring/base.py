"""The scorer protocol: a ``ClientBlock`` in, a block of raw scores (one row per client) out.

How a client is scored is behaviour of the scorer class chosen for the model
(``recommender.scoring.scorer_for``), not a mode string tested by callers. Every scorer shares
the fallback: a client it cannot score personally gets the mean of its popularity rows
(industry, segment, overall; unknown rows are skipped, and with none left the ``all`` row).
Each row says where its scores came from (``SOURCES``): ``personal`` (a learned client vector),
``owned_offers`` (built live from what the client owns), ``features`` (from its attributes:
cold start) or ``popularity``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.ranking.clients import ClientBlock
from recommender.servable import ServableModel

SOURCES: tuple[str, ...] = ("popularity", "personal", "owned_offers", "features")
POPULARITY, PERSONAL, OWNED_OFFERS, FEATURES = range(len(SOURCES))


@dataclass(frozen=True, eq=False)
class BlockScores:
    """Scores (n, n_items) float32, C-contiguous, and the source code of each row."""

    scores: np.ndarray
    sources: np.ndarray  # int8 codes into SOURCES

    def source(self, row: int) -> str:
        return SOURCES[int(self.sources[row])]


class Scorer(abc.ABC):
    """Scores every offer for a block of clients from a ``ServableModel`` (numpy/numba only)."""

    def __init__(self, model: ServableModel) -> None:
        self.model = model
        self._row_of = {name: i for i, name in enumerate(model.segment_names)}
        self._fallback_cache: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def n_items(self) -> int:
        return self.model.n_items

    def score(self, block: ClientBlock) -> BlockScores:
        """Raw scores of every offer for every client of ``block``."""
        n = len(block)
        out = np.empty((n, self.n_items), dtype=np.float32)
        sources = np.zeros(n, dtype=np.int8)
        self._score_personal(block, out, sources)
        rest = np.flatnonzero(sources == POPULARITY)
        if len(rest):
            rows = block.popularity_rows
            for row in rest.tolist():
                out[row] = self.popularity_scores(rows[row])
        return BlockScores(out, sources)

    @abc.abstractmethod
    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        """Fill ``out`` rows of the clients this model scores itself and set their source."""

    def popularity_scores(self, segment_rows: Sequence[str] = ("all",)) -> np.ndarray:
        """Mean of the named popularity rows that exist; the ``all`` row when none does."""
        key = tuple(segment_rows)
        cached = self._fallback_cache.get(key)
        if cached is not None:
            return cached
        rows = [self._row_of[name] for name in dict.fromkeys(key) if name in self._row_of]
        if not rows and "all" in self._row_of:
            rows = [self._row_of["all"]]
        scores = (
            np.asarray(self.model.popularity[rows].mean(axis=0), dtype=np.float32)
            if rows
            else np.zeros(self.n_items, dtype=np.float32)
        )
        if len(self._fallback_cache) < 4096:
            self._fallback_cache[key] = scores
        return scores

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` offers most similar to one offer, itself excluded: (indices, scores).

        Similarity is the model's own (see ``_similarity``); ties go to the lower index.
        """
        if not 0 <= item_index < self.n_items:
            raise IndexError(f"item index {item_index} out of range 0..{self.n_items - 1}")
        similarity = self._similarity(item_index)
        candidates = np.delete(np.arange(self.n_items), item_index)
        order = candidates[np.lexsort((candidates, -similarity[candidates]))][:k]
        return order.astype(np.int64), similarity[order].astype(np.float32)

    def _similarity(self, item_index: int) -> np.ndarray:
        """Similarity of every offer to ``item_index``; overall popularity unless overridden."""
        return self.popularity_scores().copy()


class PopularityScorer(Scorer):
    """A bundle without a personal part: everyone gets the popularity fallback."""

    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        return None
