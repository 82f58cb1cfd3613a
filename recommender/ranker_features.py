"""Feature rows of the second-stage ranker: one code path for training and serving.

The ranker (``recommender.models.ranker``) scores a (client, offer) pair from the offer, the
first-stage score, the offer's rank among the client's first-stage scores, the offer's
popularity, the rest of the portfolio and the client's attributes.

First stage: ``s(x) = sum over owned j of B[j, x]`` with EASE/EDLAE weights ``B`` (zero
diagonal). The free offers are ordered by ``s`` (highest first), ties by popularity (most
owned first), then by index, so an empty portfolio is ordered by popularity; an offer's rank is
its position in that order. Serving scores the first ``candidates`` of the order (the window).

Columns (``RankerSpec.feature_names``): item index (categorical), first-stage score, rank, log
of one plus the offer's owner count, owned offers, with ``portfolio_bits`` one 0/1 column per
offer (the scored offer's own bit is always 0), then categorical client attributes (codes into
their vocabulary; unknown and missing are NaN), numeric ones (NaN when missing) and dates (ISO
text such as ``signup_date``, as days since 1970-01-01, so tenure is a feature; NaN when
missing). A text column with more than ``max_categories`` values keeps its most frequent ones
(held by two clients or more; the others read as missing): an occupation code with 230 values
still informs, an id-like column (no value repeats) is left out.

A score is ``prior(rank) + trees(row)``: the prior (``RankerSpec.prior``) is a logistic fit of
the label on ``log1p(rank)``, strictly decreasing, so without trees the ranker orders as its
first stage; LightGBM is trained from it as ``init_score``. Offers outside the window keep the
first-stage order below every candidate; owned offers come last.

Training (``training_rows``) hides one owned offer at a time (a *context*: the portfolio
without it) and writes the rows serving would build for that context, through the same
numba helpers as the serving kernel (``score_kernel``): a served row is a row the trees
learned from. No LightGBM here: the trees are ``recommender.trees`` arrays.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from recommender.trees import TreeEnsemble, predict_block

#: Columns before the portfolio bits and the attributes.
BASE_FEATURES: tuple[str, ...] = ("item", "score", "rank", "log_popularity", "n_owned")
ITEM, SCORE, RANK, LOG_POPULARITY, N_OWNED = range(len(BASE_FEATURES))
#: Largest catalogue that gets one portfolio column per offer.
MAX_PORTFOLIO_BITS = 128
#: Most distinct values of a text attribute used as a categorical feature (the most frequent).
MAX_CATEGORIES = 64
#: Clients' worth of the overall share an attribute value's own share is shrunk towards.
AFFINITY_SMOOTHING = 20.0
#: Fewest clients holding a value for it to have an affinity (else NaN): the training rows read
#: the table serving reads, fitted on their own clients, so a small group's would be its labels.
AFFINITY_MIN_CLIENTS = 30
#: Array names inside ``ServableModel.ranker_arrays``.
TREE_PREFIX = "tree."
LOG_POPULARITY_ARRAY = "item_log_popularity"
AFFINITY_ARRAY = "attribute_affinity"
METADATA_KEY = "ranker"

ColumnReader = Callable[[str], Sequence[str | None]]


@dataclass(frozen=True)
class RankerSpec:
    """What the feature columns are: saved in the bundle's metadata under ``"ranker"``."""

    n_items: int
    portfolio_bits: bool
    #: (column, vocabulary): the code of a value is its position in the vocabulary.
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    numeric: tuple[str, ...]
    candidates: int
    #: Date columns (ISO text), encoded as days since 1970-01-01.
    dates: tuple[str, ...] = ()
    #: The first-stage prior every score starts from: ``intercept + slope * log1p(rank)``
    #: (a logistic fit of the label on the rank); the trees add corrections to it.
    prior: tuple[float, float] = (0.0, -1.0)
    #: An affinity column for each of the first ``affinity`` categorical attributes: the
    #: offer's log-lift among the clients sharing the client's value (``affinity_table``).
    affinity: int = 0

    def prior_of(self, rank: np.ndarray) -> np.ndarray:
        """The prior (float64) of rows at first-stage ``rank``."""
        return self.prior[0] + self.prior[1] * np.log1p(np.asarray(rank, dtype=np.float64))

    @property
    def n_attributes(self) -> int:
        return len(self.categorical) + len(self.numeric) + len(self.dates)

    @property
    def attribute_offset(self) -> int:
        return len(BASE_FEATURES) + (self.n_items if self.portfolio_bits else 0)

    @property
    def n_affinities(self) -> int:
        return min(self.affinity, len(self.categorical))

    @property
    def n_features(self) -> int:
        return self.attribute_offset + self.n_attributes + self.n_affinities

    def feature_names(self) -> list[str]:
        bits = [f"owns_{i}" for i in range(self.n_items)] if self.portfolio_bits else []
        attributes = [name for name, _ in self.categorical] + [*self.numeric, *self.dates]
        affinities = [f"affinity.{name}" for name, _ in self.categorical[: self.n_affinities]]
        return [*BASE_FEATURES, *bits, *(f"client.{a}" for a in attributes), *affinities]

    def affinity_offsets(self) -> np.ndarray:
        """First row of each categorical attribute's block in the affinity table (int64; empty
        without affinity columns)."""
        sizes = [len(vocab) for _, vocab in self.categorical[: self.n_affinities]]
        return np.concatenate([[0], np.cumsum(sizes)])[:-1].astype(np.int64)

    @property
    def affinity_rows(self) -> int:
        return sum(len(vocab) for _, vocab in self.categorical[: self.n_affinities])

    def categorical_features(self) -> list[int]:
        """Columns LightGBM treats as categorical: the item and the categorical attributes."""
        start = self.attribute_offset
        return [ITEM, *range(start, start + len(self.categorical))]

    @cached_property
    def _codes(self) -> tuple[dict[str, float], ...]:
        return tuple({v: float(n) for n, v in enumerate(vocab)} for _, vocab in self.categorical)

    def encode_attributes(self, column: ColumnReader, n: int) -> np.ndarray:
        """(n, n_attributes) float32 attribute columns; ``column(name)`` gives text or None."""
        out = np.full((n, self.n_attributes), np.nan, dtype=np.float32)
        for a, ((name, _), codes) in enumerate(zip(self.categorical, self._codes, strict=True)):
            out[:, a] = [
                codes.get(v, math.nan) if v is not None else math.nan for v in column(name)
            ]
        start = len(self.categorical)
        for a, name in enumerate(self.numeric, start):
            out[:, a] = [_number(v) for v in column(name)]
        start += len(self.numeric)
        for a, name in enumerate(self.dates, start):
            out[:, a] = [_days(v) for v in column(name)]
        return out

    def to_metadata(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "portfolio_bits": self.portfolio_bits,
            "categorical": [[name, list(vocab)] for name, vocab in self.categorical],
            "numeric": list(self.numeric),
            "dates": list(self.dates),
            "candidates": self.candidates,
            "prior": list(self.prior),
            "affinity": self.affinity,
        }

    @classmethod
    def from_metadata(cls, data: Any) -> RankerSpec:
        """The spec saved by ``to_metadata``; ``ValueError`` naming the bad key."""
        if not isinstance(data, Mapping):
            raise ValueError(f"metadata[{METADATA_KEY!r}] must be a mapping")
        try:
            spec = cls(
                n_items=int(data["n_items"]),
                portfolio_bits=bool(data["portfolio_bits"]),
                categorical=tuple(
                    (str(name), tuple(str(v) for v in vocab)) for name, vocab in data["categorical"]
                ),
                numeric=tuple(str(name) for name in data["numeric"]),
                candidates=int(data["candidates"]),
                dates=tuple(str(name) for name in data.get("dates", ())),
                prior=(float(data["prior"][0]), float(data["prior"][1])),
                affinity=int(data.get("affinity", 0)),
            )
        except KeyError as exc:
            raise ValueError(f"metadata[{METADATA_KEY!r}] lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata[{METADATA_KEY!r}] is malformed ({exc})") from None
        if spec.candidates < 1:
            raise ValueError(f"metadata[{METADATA_KEY!r}]['candidates'] must be >= 1")
        if not all(math.isfinite(v) for v in spec.prior):
            raise ValueError(f"metadata[{METADATA_KEY!r}]['prior'] must be finite")
        return spec


def _number(value: str | None) -> float:
    if value is None:
        return math.nan
    try:
        number = float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


_EPOCH = date(1970, 1, 1).toordinal()


def _days(value: str | None) -> float:
    """Days from 1970-01-01 to the (UTC) date of ISO text; NaN when it is not one."""
    if value is None:
        return math.nan
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return math.nan
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return float(moment.date().toordinal() - _EPOCH)


def _vocabulary(present: Sequence[str], max_categories: int) -> tuple[str, ...]:
    """Every value (sorted) when there are at most ``max_categories``; else the most frequent
    ones held by two rows or more (ties by value), sorted; empty for an id-like column."""
    counts = Counter(present)
    if len(counts) <= max_categories:
        return tuple(sorted(counts))
    frequent = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    return tuple(sorted(v for v, n in frequent if n >= 2))


def infer_spec(
    columns: Sequence[str],
    column: ColumnReader,
    n_items: int,
    candidates: int,
    max_categories: int = MAX_CATEGORIES,
    affinity: bool = True,
) -> RankerSpec:
    """Numeric columns (every present value parses as a number), dates (every present value
    is ISO date text) and categorical ones (the rest: ``_vocabulary``); columns with no value,
    or no repeated value among more than ``max_categories``, are left out. With ``affinity``,
    the categorical columns where two values or more are each held by ``AFFINITY_MIN_CLIENTS``
    come first and get an affinity column each."""
    categorical: list[tuple[str, tuple[str, ...]]] = []
    contrasted: set[str] = set()
    numeric: list[str] = []
    dates: list[str] = []
    for name in columns:
        present = [v for v in column(name) if v is not None]
        if not present:
            continue
        distinct = set(present)
        if all(not math.isnan(_number(v)) for v in distinct):
            numeric.append(name)
        elif all(not math.isnan(_days(v)) for v in distinct):
            dates.append(name)
        elif vocabulary := _vocabulary(present, max_categories):
            categorical.append((name, vocabulary))
            held = Counter(v for v in present if v in set(vocabulary))
            if sum(n >= AFFINITY_MIN_CLIENTS for n in held.values()) >= 2:
                contrasted.add(name)
    if affinity:  # a stable sort: the columns keep their order within each part
        categorical.sort(key=lambda column: column[0] not in contrasted)
    return RankerSpec(
        n_items=n_items,
        portfolio_bits=n_items <= MAX_PORTFOLIO_BITS,
        categorical=tuple(categorical),
        numeric=tuple(numeric),
        candidates=candidates,
        dates=tuple(dates),
        affinity=len(contrasted) if affinity else 0,
    )


def affinity_table(spec: RankerSpec, attributes: np.ndarray, owned: Any) -> np.ndarray:
    """(``spec.affinity_rows``, n_items) float32: for each categorical attribute's value v and
    offer x, ``log(((owners_vx + a * p_x) / (clients_v + a)) / p_x)`` with ``p_x`` the share of
    all these clients owning x and ``a = AFFINITY_SMOOTHING``: how much more (> 0) or less
    (< 0) the clients sharing v own x; NaN for a value fewer than ``AFFINITY_MIN_CLIENTS``
    hold. ``attributes`` are ``encode_attributes`` rows and ``owned`` the clients x offers CSR
    matrix of the same clients."""
    n_clients, n_items = owned.shape
    table = np.zeros((spec.affinity_rows, n_items), dtype=np.float32)
    if not spec.n_affinities:
        return table
    binary = (owned > 0).astype(np.float64).tocsr()
    share = (np.asarray(binary.sum(axis=0)).ravel() + 1.0) / (n_clients + 2.0)
    for a, start in enumerate(spec.affinity_offsets()):
        size = len(spec.categorical[a][1])
        codes = attributes[:, a]
        known = np.flatnonzero(~np.isnan(codes))
        members = sp.csr_matrix(
            (np.ones(len(known)), (codes[known].astype(np.int64), known)),
            shape=(size, n_clients),
        )
        owners = np.asarray((members @ binary).todense())
        clients = np.asarray(members.sum(axis=1)).ravel()[:, None]
        rate = (owners + AFFINITY_SMOOTHING * share) / (clients + AFFINITY_SMOOTHING)
        lift = np.log(rate / share)
        lift[clients[:, 0] < AFFINITY_MIN_CLIENTS] = np.nan  # a few clients' own offers
        table[start : start + size] = lift
    return table


@dataclass(frozen=True, eq=False)
class RankerParts:
    """Everything the serving kernel reads, checked: first stage, trees, popularity, spec."""

    spec: RankerSpec
    item_item: np.ndarray  # float32 (n_items, n_items), C-contiguous
    ensemble: TreeEnsemble
    log_popularity: np.ndarray  # float32 (n_items,)
    #: float32 (spec.affinity_rows, n_items): ``affinity_table`` (None: no affinity columns).
    affinity: np.ndarray | None = None

    @cached_property
    def affinity_table(self) -> np.ndarray:
        if self.affinity is None:
            return np.zeros((0, self.spec.n_items), dtype=np.float32)
        return np.ascontiguousarray(self.affinity, dtype=np.float32)

    @classmethod
    def from_bundle(
        cls, item_item: np.ndarray | None, arrays: Mapping[str, np.ndarray] | None, metadata: Any
    ) -> RankerParts:
        """``ValueError`` naming the array (or metadata key) that is missing or inconsistent."""
        if item_item is None or item_item.ndim != 2 or item_item.shape[0] != item_item.shape[1]:
            raise ValueError("ranker needs a square item_item array (the first stage)")
        if arrays is None:
            raise ValueError("ranker needs ranker_arrays")
        if not isinstance(metadata, Mapping) or METADATA_KEY not in metadata:
            raise ValueError(f"ranker needs metadata[{METADATA_KEY!r}] (the feature spec)")
        spec = RankerSpec.from_metadata(metadata[METADATA_KEY])
        n = item_item.shape[0]
        if spec.n_items != n:
            raise ValueError(f"metadata[{METADATA_KEY!r}]['n_items'] is not item_item's {n}")
        pop = arrays.get(LOG_POPULARITY_ARRAY)
        if pop is None or pop.shape != (n,):
            raise ValueError(f"ranker array {LOG_POPULARITY_ARRAY!r} must have shape ({n},)")
        affinity = arrays.get(AFFINITY_ARRAY) if spec.n_affinities else None
        if spec.n_affinities and (affinity is None or affinity.shape != (spec.affinity_rows, n)):
            raise ValueError(
                f"ranker array {AFFINITY_ARRAY!r} must have shape ({spec.affinity_rows}, {n})"
            )
        ensemble = TreeEnsemble.from_arrays(arrays, prefix=TREE_PREFIX)
        if ensemble.n_features != spec.n_features:
            raise ValueError(
                f"ranker array {TREE_PREFIX}n_features is {ensemble.n_features}, the spec in "
                f"metadata[{METADATA_KEY!r}] has {spec.n_features} features"
            )
        return cls(
            spec,
            np.require(item_item, np.float32, ("C_CONTIGUOUS", "WRITEABLE")),
            ensemble,
            np.ascontiguousarray(pop, dtype=np.float32),
            affinity,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``ServableModel.ranker_arrays`` (the first stage travels as ``item_item``)."""
        affinity = {AFFINITY_ARRAY: self.affinity_table} if self.spec.n_affinities else {}
        return {
            LOG_POPULARITY_ARRAY: self.log_popularity,
            **affinity,
            **self.ensemble.to_arrays(prefix=TREE_PREFIX),
        }

    @cached_property
    def tie_order(self) -> np.ndarray:
        return tie_order(self.log_popularity)

    def score_block(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        rows: np.ndarray,
        attributes: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """Fill ``out[r]`` for each ``r`` in ``rows``: tree scores of the top candidates, then
        the other free offers below them in first-stage order, then the owned offers."""
        e = self.ensemble
        score_kernel(
            self.item_item,
            indptr,
            indices,
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(attributes, dtype=np.float32),
            self.affinity_table,
            self.spec.affinity_offsets(),
            self.log_popularity,
            self.tie_order,
            self.spec.portfolio_bits,
            self.spec.candidates,
            self.spec.prior[0],
            self.spec.prior[1],
            e.split_feature,
            e.threshold,
            e.decision,
            e.default_left,
            e.missing_type,
            e.left,
            e.right,
            e.cat_index,
            e.leaf_value,
            e.tree_node_offset,
            e.tree_leaf_offset,
            e.cat_boundaries,
            e.cat_threshold,
            out,
        )


def log_popularity(interactions: Any) -> np.ndarray:
    """``log(1 + owners)`` per offer (float32) from a clients x offers CSR matrix."""
    owners = np.bincount(interactions.indices, minlength=interactions.shape[1])
    return np.log1p(owners).astype(np.float32)


def fit_prior(ranks: np.ndarray, labels: np.ndarray, iterations: int = 25) -> tuple[float, float]:
    """Logistic regression of ``labels`` on ``log1p(ranks)`` (Newton steps): the prior.

    The slope is kept below zero, so that the prior alone orders offers as the first stage.
    """
    x = np.log1p(np.asarray(ranks, dtype=np.float64))
    y = np.asarray(labels, dtype=np.float64)
    design = np.stack([np.ones_like(x), x], axis=1)
    mean = min(max(float(y.mean()), 1e-6), 1 - 1e-6) if len(y) else 0.5
    beta = np.array([math.log(mean / (1 - mean)), 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        weight = p * (1.0 - p) + 1e-9
        hessian = design.T @ (design * weight[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if np.abs(step).max() < 1e-9:
            break
    return float(beta[0]), float(min(beta[1], -1e-3))


def tie_order(log_pop: np.ndarray) -> np.ndarray:
    """Offers by popularity (most owned first), then index: how equal scores are ordered."""
    return np.lexsort((np.arange(len(log_pop)), -log_pop)).astype(np.int64)


def training_rows(
    spec: RankerSpec,
    item_item: np.ndarray,
    log_pop: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    attributes: np.ndarray,
    *,
    max_contexts: int,
    n_negatives: int | None,
    seed: int,
    hidden: np.ndarray | None = None,
    affinity: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows (float32), labels and group sizes of the clients of ``indptr``/``indices``.

    A context is a client's portfolio without one owned offer (at most ``max_contexts`` per
    client, drawn with ``seed``); it gives rows only when that offer is among the context's
    ``spec.candidates`` first free offers (what serving would score): the offer (label 1), and
    the other free offers in that window (label 0), all of them when ``n_negatives`` is None,
    else ``n_negatives`` drawn uniformly from the window. One group per kept context, its rows
    in first-stage order. ``item_item`` is the first stage the rows are computed with
    (cross-fitted by the caller, so that the hidden offer is not scored by weights fitted on it).
    ``hidden`` (one owned offer per client, or -1) fixes the one context of a client instead.
    ``affinity`` is the ``affinity_table`` the rows read (required when ``spec`` has affinity
    columns; the ranker passes one computed without these clients).
    """
    if spec.n_affinities and (affinity is None or affinity.shape[0] != spec.affinity_rows):
        raise ValueError(f"training rows need an affinity table of {spec.affinity_rows} rows")
    table = np.zeros((0, spec.n_items), np.float32) if affinity is None else affinity
    n_clients = len(indptr) - 1
    owned = np.diff(indptr).astype(np.int64)
    if hidden is None:
        hidden = np.full(n_clients, -1, dtype=np.int64)
    contexts = np.where(hidden >= 0, 1, np.minimum(owned, max_contexts))
    window = np.minimum(spec.n_items - owned, spec.candidates - 1)  # negatives in the window
    if n_negatives is not None:
        window = np.minimum(window, n_negatives)
    bound = int((contexts * (1 + window)).sum())
    features = np.empty((bound, spec.n_features), dtype=np.float32)
    labels = np.empty(bound, dtype=np.float32)
    groups = np.empty(int(contexts.sum()), dtype=np.int64)
    rng = np.random.default_rng(seed)
    states = rng.integers(1, np.iinfo(np.uint64).max, size=n_clients, dtype=np.uint64)
    n_rows, n_groups = training_kernel(
        np.ascontiguousarray(item_item, dtype=np.float32),
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(attributes, dtype=np.float32),
        np.ascontiguousarray(table[: spec.affinity_rows], dtype=np.float32),
        spec.affinity_offsets(),
        np.ascontiguousarray(log_pop, dtype=np.float32),
        tie_order(log_pop),
        spec.portfolio_bits,
        spec.candidates,
        max_contexts,
        -1 if n_negatives is None else n_negatives,
        np.ascontiguousarray(hidden, dtype=np.int64),
        states,
        features,
        labels,
        groups,
    )
    return features[:n_rows], labels[:n_rows], groups[:n_groups]


# ------------------------------------------------------------------------------ numba kernels
@njit(nogil=True, cache=True)
def _context(
    item_item: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    r: int,
    skip: int,
    scores: np.ndarray,
    owned: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Client ``r``'s portfolio without offer ``skip`` (-1: whole): first-stage ``scores``
    (``item_item`` rows summed in ``indices`` order), the ``owned`` mask; its size."""
    n = item_item.shape[1]
    for i in range(n):
        scores[i] = 0.0
        owned[i] = False
    count = 0
    for p in range(indptr[r], indptr[r + 1]):
        j = indices[p]
        if j == skip:
            continue
        owned[j] = True
        count += 1
        source = item_item[j]
        for i in range(n):
            scores[i] += source[i]
    return count


@njit(nogil=True, cache=True)
def _order(
    scores: np.ndarray,
    owned: np.ndarray,
    tie_order: np.ndarray,
    key: np.ndarray,
    free: np.ndarray,
    order: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Free offers into ``order[:m]`` by score (highest first), ties in ``tie_order``; m."""
    m = 0
    for t in range(tie_order.shape[0]):
        i = tie_order[t]
        if not owned[i]:
            free[m] = i
            key[m] = -scores[i]
            m += 1
    perm = np.argsort(key[:m], kind="mergesort")
    for k in range(m):
        order[k] = free[perm[k]]
    return m


@njit(nogil=True, cache=True)
def _fill_row(
    row: np.ndarray,
    item: int,
    score: float,
    rank: int,
    n_owned: int,
    log_pop: np.ndarray,
    owned: np.ndarray,
    portfolio_bits: bool,
    attributes: np.ndarray,
    affinity: np.ndarray,
    offsets: np.ndarray,
) -> None:  # pragma: no cover - numba
    """One feature row: ``item`` given the portfolio ``owned`` without it; the affinity
    columns read the categorical attributes (the first ``len(offsets)``)."""
    row[0] = item
    row[1] = score
    row[2] = rank
    row[3] = log_pop[item]
    row[4] = n_owned
    c = 5
    if portfolio_bits:
        n = owned.shape[0]
        for i in range(n):
            row[c + i] = 1.0 if owned[i] else 0.0
        row[c + item] = 0.0
        c += n
    for a in range(attributes.shape[0]):
        row[c + a] = attributes[a]
    c += attributes.shape[0]
    for a in range(offsets.shape[0]):
        code = attributes[a]
        row[c + a] = np.nan if np.isnan(code) else affinity[offsets[a] + np.int64(code), item]


@njit(nogil=True, cache=True)
def _candidates(
    item_item: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    r: int,
    attributes: np.ndarray,
    affinity: np.ndarray,
    offsets: np.ndarray,
    log_pop: np.ndarray,
    tie_order: np.ndarray,
    portfolio_bits: bool,
    scores: np.ndarray,
    owned: np.ndarray,
    key: np.ndarray,
    free: np.ndarray,
    order: np.ndarray,
    features: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Client ``r``'s free offers in ``order`` and the rows of the first ``len(features)``
    of them; the number of free offers."""
    n_owned = _context(item_item, indptr, indices, r, -1, scores, owned)
    m = _order(scores, owned, tie_order, key, free, order)
    for k in range(min(features.shape[0], m)):
        i = order[k]
        _fill_row(
            features[k], i, scores[i], k, n_owned, log_pop, owned, portfolio_bits, attributes,
            affinity, offsets,
        )  # fmt: skip
    return m


@njit(nogil=True, cache=True)
def candidate_rows(
    item_item: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    r: int,
    attributes: np.ndarray,
    affinity: np.ndarray,
    offsets: np.ndarray,
    log_pop: np.ndarray,
    tie_order: np.ndarray,
    portfolio_bits: bool,
    features: np.ndarray,
    order: np.ndarray,
) -> int:  # pragma: no cover - numba
    """The rows serving builds for client ``r`` (tests compare them with training rows)."""
    n = item_item.shape[0]
    scores = np.empty(n, dtype=np.float32)
    owned = np.zeros(n, dtype=np.bool_)
    key = np.empty(n, dtype=np.float32)
    free = np.empty(n, dtype=np.int64)
    return _candidates(
        item_item, indptr, indices, r, attributes, affinity, offsets, log_pop, tie_order,
        portfolio_bits, scores, owned, key, free, order, features,
    )  # fmt: skip


@njit(nogil=True, cache=True)
def score_kernel(
    item_item: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    rows: np.ndarray,
    attributes: np.ndarray,
    affinity: np.ndarray,
    offsets: np.ndarray,
    log_pop: np.ndarray,
    tie_order: np.ndarray,
    portfolio_bits: bool,
    candidates: int,
    prior_intercept: float,
    prior_slope: float,
    split_feature: np.ndarray,
    threshold: np.ndarray,
    decision: np.ndarray,
    default_left: np.ndarray,
    missing_type: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cat_index: np.ndarray,
    leaf_value: np.ndarray,
    tree_node_offset: np.ndarray,
    tree_leaf_offset: np.ndarray,
    cat_boundaries: np.ndarray,
    cat_threshold: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """The serving kernel (see ``RankerParts.score_block``); each client on its own."""
    n = item_item.shape[0]
    n_features = 5 + (n if portfolio_bits else 0) + attributes.shape[1] + offsets.shape[0]
    scores = np.empty(n, dtype=np.float32)
    owned = np.zeros(n, dtype=np.bool_)
    key = np.empty(n, dtype=np.float32)
    free = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    width = min(candidates, n)
    features = np.empty((width, n_features), dtype=np.float32)
    raw = np.empty(width, dtype=np.float64)
    for t in range(rows.shape[0]):
        r = rows[t]
        m = _candidates(
            item_item, indptr, indices, r, attributes[r], affinity, offsets, log_pop,
            tie_order, portfolio_bits, scores, owned, key, free, order, features,
        )  # fmt: skip
        c = min(width, m)
        predict_block(
            features[:c],
            split_feature,
            threshold,
            decision,
            default_left,
            missing_type,
            left,
            right,
            cat_index,
            leaf_value,
            tree_node_offset,
            tree_leaf_offset,
            cat_boundaries,
            cat_threshold,
            raw[:c],
        )
        lowest = 0.0
        for k in range(c):
            value = float(np.float32(prior_intercept + prior_slope * np.log1p(k) + raw[k]))
            out[r, order[k]] = value
            if k == 0 or value < lowest:
                lowest = value
        # The rest keep the first-stage order below every candidate; owned offers come last.
        for k in range(c, m):
            out[r, order[k]] = np.float32(lowest - 1.0 - k / n)
        for p in range(indptr[r], indptr[r + 1]):
            out[r, indices[p]] = np.float32(lowest - 2.0)


@njit(nogil=True, cache=True)
def training_kernel(
    item_item: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    attributes: np.ndarray,
    affinity: np.ndarray,
    offsets: np.ndarray,
    log_pop: np.ndarray,
    tie_order: np.ndarray,
    portfolio_bits: bool,
    candidates: int,
    max_contexts: int,
    n_negatives: int,
    hidden: np.ndarray,
    states: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - numba
    """The rows of ``training_rows``; returns how many rows and groups were written."""
    n = item_item.shape[0]
    scores = np.empty(n, dtype=np.float32)
    owned = np.zeros(n, dtype=np.bool_)
    key = np.empty(n, dtype=np.float32)
    free = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    ranks = np.empty(n, dtype=np.int64)
    held = np.empty(n, dtype=np.int64)
    out = 0
    n_groups = 0
    for r in range(indptr.shape[0] - 1):
        start, stop = indptr[r], indptr[r + 1]
        k = stop - start
        state = states[r]
        for p in range(k):
            held[p] = indices[start + p]
        n_held = min(k, max_contexts)
        if hidden[r] >= 0:
            held[0] = hidden[r]
            n_held = 1
        elif n_held < k:  # partial Fisher-Yates: which offers to hide
            for e in range(n_held):
                state = _xorshift(state)
                pick = e + np.int64(state % np.uint64(k - e))
                held[e], held[pick] = held[pick], held[e]
        for h in range(n_held):
            i = held[h]
            n_owned = _context(item_item, indptr, indices, r, i, scores, owned)
            m = _order(scores, owned, tie_order, key, free, order)
            window = min(m, candidates)
            position = -1
            n_free = 0  # window ranks of the other free offers
            for q in range(window):
                if order[q] == i:
                    position = q
                else:
                    ranks[n_free] = q
                    n_free += 1
            if position < 0:
                continue  # serving would not score i: nothing to learn from this context
            take = n_free if n_negatives < 0 else min(n_free, n_negatives)
            for e in range(take if take < n_free else 0):
                state = _xorshift(state)
                pick = e + np.int64(state % np.uint64(n_free - e))
                ranks[e], ranks[pick] = ranks[pick], ranks[e]
            # Rows in first-stage order, so that ties in a group are broken as serving does.
            ranks[take] = position
            for q in np.sort(ranks[: take + 1]):
                x = order[q]
                _fill_row(
                    features[out], x, scores[x], q, n_owned, log_pop, owned, portfolio_bits,
                    attributes[r], affinity, offsets,
                )  # fmt: skip
                labels[out] = 1.0 if x == i else 0.0
                out += 1
            groups[n_groups] = 1 + take
            n_groups += 1
    return out, n_groups


@njit(nogil=True, cache=True)
def _xorshift(state: np.uint64) -> np.uint64:  # pragma: no cover - numba
    state ^= state << np.uint64(13)
    state ^= state >> np.uint64(7)
    state ^= state << np.uint64(17)
    return state
