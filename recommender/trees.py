"""A trained LightGBM model as flat numpy arrays, and a numba kernel that predicts with it.

The serving path loads a gradient-boosted ranker without importing (or unpickling) LightGBM: the
model is converted once, at training time, by :meth:`TreeEnsemble.from_booster` (the only place that
imports ``lightgbm``), saved with the other arrays of a bundle (:meth:`TreeEnsemble.to_arrays`,
``np.savez``) and read back with ``np.load(allow_pickle=False)`` and
:meth:`TreeEnsemble.from_arrays`, which validates every array so that the kernel can index without
bounds checks.

Format
------
``n_trees`` trees, ``n_nodes`` internal (split) nodes and ``n_leaves`` leaves over all trees. Tree
``t`` owns the nodes ``tree_node_offset[t] : tree_node_offset[t + 1]`` and the leaves
``tree_leaf_offset[t] : tree_leaf_offset[t + 1]``; a tree with ``k`` nodes has ``k + 1`` leaves (a
tree that is a single leaf has no node at all). Node and leaf numbers stored in the arrays are
*local* to their tree; the root is local node 0; nodes are numbered in pre-order, so a child's
number is always greater than its parent's (which makes every walk terminate).

Per node (``n_nodes``):

* ``split_feature`` (int32): the column tested, ``0 <= f < n_features``.
* ``threshold`` (float64): numerical splits go left when ``value <= threshold``; 0 for categorical.
* ``decision`` (int8): 0 numerical ``<=``, 1 categorical (``==`` in LightGBM's dump).
* ``default_left`` (bool): where a missing value goes (numerical splits).
* ``missing_type`` (int8): 0 None, 1 Zero, 2 NaN, as in LightGBM's dump.
* ``left``, ``right`` (int32): the child, a local node number ``>= 0`` or a leaf as ``~leaf``
  (``-1 - leaf``, LightGBM's own encoding), ``leaf`` being the local leaf number.
* ``cat_index`` (int32): for a categorical split, its bitset ``cat_index`` in ``cat_boundaries``;
  -1 for a numerical split.

Per leaf (``n_leaves``): ``leaf_value`` (float64), shrinkage already applied. Categorical bitsets,
as LightGBM stores them: bitset ``c`` is ``cat_threshold[cat_boundaries[c] : cat_boundaries[c+1]]``
(``cat_boundaries`` int64, ``n_cat + 1`` entries from 0; ``cat_threshold`` uint32 words); category
``v`` is in it when bit ``v % 32`` of word ``v // 32`` is set (a word past the end means "not in").

Semantics (LightGBM's ``Tree::Decision``, reproduced exactly for a float32 feature matrix):

* each float32 value is widened to float64; LightGBM's dense-matrix reader drops values with
  ``|x| <= kZeroThreshold`` (1e-35f), so these become exactly 0.0;
* numerical: NaN becomes 0.0 unless ``missing_type`` is NaN; the value is *missing* when
  ``missing_type`` is Zero and it is (within kZeroThreshold of) zero, or ``missing_type`` is NaN and
  it is NaN; a missing value goes to ``default_left``'s side, any other goes left iff
  ``value <= threshold``;
* categorical: NaN goes right; the value is truncated to an int (``static_cast<int>``) and a
  negative one goes right (as does one past the int range, as LightGBM does on x86); otherwise the
  value goes left iff it is in the node's bitset (unseen categories are not: they go right).

The raw score of a row is ``0.0 + tree_0 + tree_1 + ...``: each tree's leaf value added in tree
order, as ``GBDT::PredictRaw`` does; it is computed row by row, so a row's score does not depend on
the other rows of the matrix (bit-identical alone or in a block). LightGBM folds the
``boost_from_average`` initial score into the first tree's leaves, so no separate offset exists; an
``init_score`` given to a training ``Dataset`` is not part of the model (LightGBM does not add it
at prediction either). Only single-output models are supported (``num_tree_per_iteration == 1``:
binary, regression, ranking objectives); for a binary model the raw score is the logit (apply the
sigmoid for a probability). Multiclass, ``rf`` (averaged output) and linear-tree models are
rejected by :meth:`TreeEnsemble.from_booster`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

if TYPE_CHECKING:
    import lightgbm

# LightGBM's ``kZeroThreshold`` (``const double kZeroThreshold = 1e-35f;``): a float32 literal.
ZERO_THRESHOLD = float(np.float32(1e-35))
_INT_RANGE_END = 2147483648.0  # 2**31: a category value at or past it is no valid ``int``

DECISION_NUMERICAL = 0
DECISION_CATEGORICAL = 1
MISSING_NONE = 0
MISSING_ZERO = 1
MISSING_NAN = 2
_MISSING_TYPES = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}

# name -> dtype of every array in ``to_arrays`` (``n_features`` is a 0-d int64 array).
ARRAY_DTYPES: dict[str, np.dtype[Any]] = {
    "split_feature": np.dtype(np.int32),
    "threshold": np.dtype(np.float64),
    "decision": np.dtype(np.int8),
    "default_left": np.dtype(np.bool_),
    "missing_type": np.dtype(np.int8),
    "left": np.dtype(np.int32),
    "right": np.dtype(np.int32),
    "cat_index": np.dtype(np.int32),
    "leaf_value": np.dtype(np.float64),
    "tree_node_offset": np.dtype(np.int64),
    "tree_leaf_offset": np.dtype(np.int64),
    "cat_boundaries": np.dtype(np.int64),
    "cat_threshold": np.dtype(np.uint32),
    "n_features": np.dtype(np.int64),
}
_NODE_ARRAYS = (
    "split_feature",
    "threshold",
    "decision",
    "default_left",
    "missing_type",
    "left",
    "right",
    "cat_index",
)


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A LightGBM tree ensemble as flat arrays (see the module docstring for the format).

    Construction validates the arrays (``ValueError`` naming the first bad one), so the kernel can
    trust every index. Build one with :meth:`from_booster` or :meth:`from_arrays`.
    """

    split_feature: np.ndarray
    threshold: np.ndarray
    decision: np.ndarray
    default_left: np.ndarray
    missing_type: np.ndarray
    left: np.ndarray
    right: np.ndarray
    cat_index: np.ndarray
    leaf_value: np.ndarray
    tree_node_offset: np.ndarray
    tree_leaf_offset: np.ndarray
    cat_boundaries: np.ndarray
    cat_threshold: np.ndarray
    n_features: int

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def n_trees(self) -> int:
        return int(self.tree_node_offset.shape[0]) - 1

    @property
    def n_nodes(self) -> int:
        return int(self.split_feature.shape[0])

    @property
    def n_leaves(self) -> int:
        return int(self.leaf_value.shape[0])

    # ----------------------------------------------------------------- conversion from LightGBM
    @classmethod
    def from_booster(
        cls, booster: lightgbm.Booster, num_iteration: int | None = None
    ) -> TreeEnsemble:
        """Convert a trained single-output LightGBM model (via ``booster.dump_model()``).

        ``num_iteration`` is passed to ``dump_model``: ``None`` (the default, as in
        ``booster.predict``) takes the best iteration when there is one, else all of them.
        ``ValueError`` for a model this format cannot represent (multiclass, ``rf``, linear trees).
        """
        import lightgbm  # lazy: only training converts, serving never imports it

        if not isinstance(booster, lightgbm.Booster):
            raise TypeError(f"expected a lightgbm.Booster, got {type(booster).__name__}")
        return cls.from_dump(booster.dump_model(num_iteration=num_iteration))

    @classmethod
    def from_dump(cls, dump: Mapping[str, Any]) -> TreeEnsemble:
        """Convert the dict of ``lightgbm.Booster.dump_model()`` (JSON model, version v4)."""
        per_iteration = int(dump.get("num_tree_per_iteration", 1))
        if per_iteration != 1 or int(dump.get("num_class", 1)) != 1:
            raise ValueError(
                f"only single-output models are supported, got num_class={dump.get('num_class')}"
                f" and num_tree_per_iteration={per_iteration}"
            )
        if dump.get("average_output", False):
            raise ValueError("models with averaged output (boosting='rf') are not supported")
        n_features = int(dump["max_feature_idx"]) + 1
        builder = _Builder()
        for position, info in enumerate(dump["tree_info"]):
            try:
                builder.add_tree(info["tree_structure"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"tree {position} of the dump: {exc}") from exc
        return builder.build(n_features)

    # ------------------------------------------------------------------------------ arrays I/O
    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every array by name (see ``ARRAY_DTYPES``), each name preceded by ``prefix``."""
        arrays = {name: getattr(self, name) for name in ARRAY_DTYPES if name != "n_features"}
        arrays["n_features"] = np.array(self.n_features, dtype=np.int64)
        return {prefix + name: array for name, array in arrays.items()}

    @classmethod
    def from_arrays(cls, mapping: Mapping[str, Any], prefix: str = "") -> TreeEnsemble:
        """The ensemble saved by :meth:`to_arrays` (other keys of ``mapping`` are ignored).

        Works on an ``np.load`` result. ``ValueError`` naming the array when one is missing, has
        the wrong dtype or shape, or holds an inconsistent index.
        """
        fields: dict[str, Any] = {}
        for name, dtype in ARRAY_DTYPES.items():
            key = prefix + name
            if key not in mapping:
                raise ValueError(f"tree ensemble: array {key!r} is missing")
            array = np.asarray(mapping[key])
            if array.dtype != dtype:
                raise ValueError(
                    f"tree ensemble: array {key!r} has dtype {array.dtype}, expected {dtype}"
                )
            if name == "n_features":
                if array.shape != ():
                    raise ValueError(
                        f"tree ensemble: array {key!r} must be a scalar, got shape {array.shape}"
                    )
                fields[name] = int(array)
            else:
                fields[name] = np.ascontiguousarray(array)
        try:
            return cls(**fields)
        except ValueError as exc:
            if prefix:
                raise ValueError(f"{exc} (array names prefixed {prefix!r})") from exc
            raise


class _Builder:
    """Accumulates the dumped trees' nodes and leaves into flat lists."""

    def __init__(self) -> None:
        self.split_feature: list[int] = []
        self.threshold: list[float] = []
        self.decision: list[int] = []
        self.default_left: list[bool] = []
        self.missing_type: list[int] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.cat_index: list[int] = []
        self.leaf_value: list[float] = []
        self.tree_node_offset: list[int] = [0]
        self.tree_leaf_offset: list[int] = [0]
        self.cat_boundaries: list[int] = [0]
        self.cat_threshold: list[int] = []

    def add_tree(self, structure: Mapping[str, Any]) -> None:
        if "split_index" not in structure:  # a tree that is a single leaf (no split)
            _check_leaf(structure)
            self.leaf_value.append(float(structure["leaf_value"]))
            self.tree_node_offset.append(len(self.split_feature))
            self.tree_leaf_offset.append(len(self.leaf_value))
            return
        base = len(self.split_feature)
        leaves: dict[int, float] = {}
        # Pre-order walk with an explicit stack (trees can be deeper than Python's recursion).
        # Entries: (dumped node, local number of its parent or -1, whether it is the left child).
        stack: list[tuple[Mapping[str, Any], int, bool]] = [(structure, -1, False)]
        while stack:
            node, parent, is_left = stack.pop()
            if "split_index" in node:
                child = len(self.split_feature) - base
                self._add_node(node)
                stack.append((node["right_child"], child, False))
                stack.append((node["left_child"], child, True))
            else:
                _check_leaf(node)
                leaf = int(node["leaf_index"])
                if leaf in leaves:
                    raise ValueError(f"leaf_index {leaf} appears twice")
                leaves[leaf] = float(node["leaf_value"])
                child = ~leaf
            if parent >= 0:
                (self.left if is_left else self.right)[base + parent] = child
        n_nodes = len(self.split_feature) - base
        if sorted(leaves) != list(range(n_nodes + 1)):
            raise ValueError(f"{n_nodes} splits but leaf indices {sorted(leaves)}")
        self.leaf_value.extend(leaves[leaf] for leaf in range(n_nodes + 1))
        self.tree_node_offset.append(len(self.split_feature))
        self.tree_leaf_offset.append(len(self.leaf_value))

    def _add_node(self, node: Mapping[str, Any]) -> None:
        if "leaf_value" in node:
            raise ValueError("a node with both a split and a leaf value")
        self.split_feature.append(int(node["split_feature"]))
        self.default_left.append(bool(node["default_left"]))
        self.missing_type.append(_MISSING_TYPES[node["missing_type"]])
        self.left.append(0)  # set when the children are visited
        self.right.append(0)
        kind = node["decision_type"]
        if kind == "<=":
            self.decision.append(DECISION_NUMERICAL)
            self.threshold.append(float(node["threshold"]))
            self.cat_index.append(-1)
        elif kind == "==":
            # The dump lists the categories of the bitset ("1||4||7"); rebuild the bitset the way
            # LightGBM's ``Common::ConstructBitset`` does (max // 32 + 1 words).
            categories = [int(c) for c in str(node["threshold"]).split("||")]
            if min(categories) < 0:
                raise ValueError(f"negative category in a categorical split: {categories}")
            words = [0] * (max(categories) // 32 + 1)
            for category in categories:
                words[category // 32] |= 1 << (category % 32)
            self.decision.append(DECISION_CATEGORICAL)
            self.threshold.append(0.0)
            self.cat_index.append(len(self.cat_boundaries) - 1)
            self.cat_threshold.extend(words)
            self.cat_boundaries.append(len(self.cat_threshold))
        else:
            raise ValueError(f"unknown decision_type {kind!r}")

    def build(self, n_features: int) -> TreeEnsemble:
        return TreeEnsemble(
            split_feature=np.array(self.split_feature, dtype=np.int32),
            threshold=np.array(self.threshold, dtype=np.float64),
            decision=np.array(self.decision, dtype=np.int8),
            default_left=np.array(self.default_left, dtype=np.bool_),
            missing_type=np.array(self.missing_type, dtype=np.int8),
            left=np.array(self.left, dtype=np.int32),
            right=np.array(self.right, dtype=np.int32),
            cat_index=np.array(self.cat_index, dtype=np.int32),
            leaf_value=np.array(self.leaf_value, dtype=np.float64),
            tree_node_offset=np.array(self.tree_node_offset, dtype=np.int64),
            tree_leaf_offset=np.array(self.tree_leaf_offset, dtype=np.int64),
            cat_boundaries=np.array(self.cat_boundaries, dtype=np.int64),
            cat_threshold=np.array(self.cat_threshold, dtype=np.uint32),
            n_features=n_features,
        )


def _check_leaf(leaf: Mapping[str, Any]) -> None:
    if "leaf_coeff" in leaf:
        raise ValueError("linear-tree models (linear_tree=True) are not supported")
    if "leaf_value" not in leaf:
        raise ValueError(f"a node with neither a split nor a leaf value: {sorted(leaf)}")


# ------------------------------------------------------------------------------------ validation
def _fail(name: str, message: str) -> ValueError:
    return ValueError(f"tree ensemble: array {name!r} {message}")


def _validate(ensemble: TreeEnsemble) -> None:
    """Check dtypes, shapes and every index the kernel follows; ``ValueError`` naming the array."""
    for name, dtype in ARRAY_DTYPES.items():
        if name == "n_features":
            continue
        array = getattr(ensemble, name)
        if not isinstance(array, np.ndarray):
            raise _fail(name, f"is a {type(array).__name__}, not a numpy array")
        if array.dtype != dtype:
            raise _fail(name, f"has dtype {array.dtype}, expected {dtype}")
        if array.ndim != 1:
            raise _fail(name, f"must be 1-D, got shape {array.shape}")
        if not array.flags.c_contiguous:
            raise _fail(name, "must be C-contiguous")
    n_features = ensemble.n_features
    if isinstance(n_features, bool) or not isinstance(n_features, int | np.integer):
        raise _fail("n_features", f"must be an int, got {type(n_features).__name__}")
    if n_features < 1:
        raise _fail("n_features", f"must be positive, got {n_features}")

    n_nodes = ensemble.split_feature.shape[0]
    for name in _NODE_ARRAYS:
        if getattr(ensemble, name).shape[0] != n_nodes:
            raise _fail(
                name, f"has {getattr(ensemble, name).shape[0]} entries, split_feature {n_nodes}"
            )
    n_leaves = ensemble.leaf_value.shape[0]

    node_offset = ensemble.tree_node_offset
    leaf_offset = ensemble.tree_leaf_offset
    if node_offset.shape[0] < 1 or node_offset[0] != 0 or node_offset[-1] != n_nodes:
        raise _fail("tree_node_offset", f"must run from 0 to the node count {n_nodes}")
    node_counts = np.diff(node_offset)
    if np.any(node_counts < 0):
        raise _fail("tree_node_offset", "must be non-decreasing")
    if leaf_offset.shape != node_offset.shape:
        raise _fail(
            "tree_leaf_offset", f"must have the shape of tree_node_offset {node_offset.shape}"
        )
    if leaf_offset[0] != 0 or leaf_offset[-1] != n_leaves:
        raise _fail("tree_leaf_offset", f"must run from 0 to the leaf count {n_leaves}")
    leaf_counts = np.diff(leaf_offset)
    if np.any(leaf_counts != node_counts + 1):
        raise _fail("tree_leaf_offset", "must give every tree one leaf more than it has nodes")
    if not np.all(np.isfinite(ensemble.leaf_value)):
        raise _fail("leaf_value", "must be finite")

    if np.any((ensemble.split_feature < 0) | (ensemble.split_feature >= n_features)):
        raise _fail("split_feature", f"must lie in [0, n_features={n_features})")
    decision = ensemble.decision
    if np.any((decision != DECISION_NUMERICAL) & (decision != DECISION_CATEGORICAL)):
        raise _fail("decision", "must be 0 (numerical) or 1 (categorical)")
    if np.any((ensemble.missing_type < MISSING_NONE) | (ensemble.missing_type > MISSING_NAN)):
        raise _fail("missing_type", "must be 0 (None), 1 (Zero) or 2 (NaN)")
    numerical = decision == DECISION_NUMERICAL
    if np.any(np.isnan(ensemble.threshold[numerical])):
        raise _fail("threshold", "must not be NaN on a numerical split")

    boundaries = ensemble.cat_boundaries
    if boundaries.shape[0] < 1 or boundaries[0] != 0:
        raise _fail("cat_boundaries", "must start at 0")
    if np.any(np.diff(boundaries) < 0):
        raise _fail("cat_boundaries", "must be non-decreasing")
    if boundaries[-1] != ensemble.cat_threshold.shape[0]:
        raise _fail(
            "cat_threshold",
            f"has {ensemble.cat_threshold.shape[0]} words, cat_boundaries ends at {boundaries[-1]}",
        )
    n_cat = boundaries.shape[0] - 1
    cat_index = ensemble.cat_index
    if np.any(cat_index[numerical] != -1):
        raise _fail("cat_index", "must be -1 on a numerical split")
    categorical_index = cat_index[~numerical]
    if np.any((categorical_index < 0) | (categorical_index >= n_cat)):
        raise _fail("cat_index", f"must lie in [0, {n_cat}) on a categorical split")

    # Children: a node number of the same tree greater than the parent's, or ~leaf of the same
    # tree; every non-root node and every leaf of a tree with nodes has exactly one parent.
    tree_of_node = np.repeat(np.arange(node_counts.shape[0]), node_counts)
    local = np.arange(n_nodes, dtype=np.int64) - node_offset[tree_of_node]
    node_parents = np.zeros(n_nodes, dtype=np.int64)
    leaf_parents = np.zeros(n_leaves, dtype=np.int64)
    for name in ("left", "right"):
        child = getattr(ensemble, name).astype(np.int64)
        inner = child >= 0
        if np.any(inner & ((child <= local) | (child >= node_counts[tree_of_node]))):
            raise _fail(name, "must point to a later node of the same tree")
        leaf = ~child
        if np.any(~inner & (leaf >= leaf_counts[tree_of_node])):
            raise _fail(name, "must point to a leaf of the same tree")
        node_parents += np.bincount((child + node_offset[tree_of_node])[inner], minlength=n_nodes)
        leaf_parents += np.bincount((leaf + leaf_offset[tree_of_node])[~inner], minlength=n_leaves)
    roots = node_offset[:-1][node_counts > 0]
    expected_node_parents = np.ones(n_nodes, dtype=np.int64)
    expected_node_parents[roots] = 0
    if np.any(node_parents != expected_node_parents):
        raise _fail("left", "and 'right' must form trees (each node reached exactly once)")
    expected_leaf_parents = np.ones(n_leaves, dtype=np.int64)
    expected_leaf_parents[leaf_offset[:-1][node_counts == 0]] = 0  # single-leaf trees
    if np.any(leaf_parents != expected_leaf_parents):
        raise _fail("left", "and 'right' must reach each leaf exactly once")


# ------------------------------------------------------------------------------------ prediction
def predict_raw(ensemble: TreeEnsemble, features: np.ndarray) -> np.ndarray:
    """Raw scores (float64, one per row) of a float32 C-contiguous ``(n, n_features)`` matrix.

    Equals ``booster.predict(features, raw_score=True)`` of the converted booster.
    """
    out = np.empty(_check_features(ensemble, features), dtype=np.float64)
    _predict_kernel(ensemble, features, out)
    return out


def predict_raw_into(ensemble: TreeEnsemble, features: np.ndarray, out: np.ndarray) -> None:
    """:func:`predict_raw` writing into ``out`` (float64, C-contiguous, one entry per row)."""
    n_rows = _check_features(ensemble, features)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != (n_rows,):
        raise ValueError(f"out must be a float64 array of shape ({n_rows},)")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    _predict_kernel(ensemble, features, out)


def _check_features(ensemble: TreeEnsemble, features: np.ndarray) -> int:
    if not isinstance(features, np.ndarray) or features.dtype != np.float32:
        raise ValueError(
            "features must be a float32 numpy array (np.ascontiguousarray(x, dtype=np.float32))"
        )
    if features.ndim != 2 or features.shape[1] != ensemble.n_features:
        raise ValueError(
            f"features must have shape (n, {ensemble.n_features}), got {features.shape}"
        )
    if not features.flags.c_contiguous:
        raise ValueError("features must be C-contiguous")
    return int(features.shape[0])


def _predict_kernel(ensemble: TreeEnsemble, features: np.ndarray, out: np.ndarray) -> None:
    predict_block(
        features,
        ensemble.split_feature,
        ensemble.threshold,
        ensemble.decision,
        ensemble.default_left,
        ensemble.missing_type,
        ensemble.left,
        ensemble.right,
        ensemble.cat_index,
        ensemble.leaf_value,
        ensemble.tree_node_offset,
        ensemble.tree_leaf_offset,
        ensemble.cat_boundaries,
        ensemble.cat_threshold,
        out,
    )


@njit(nogil=True, cache=True)
def _numerical_left(
    value: float, threshold: float, default_left: bool, missing_type: int
) -> bool:  # pragma: no cover - numba
    """LightGBM's ``NumericalDecision`` for one (float64) feature value.

    Scalars only: array arguments would cost a reference-count update per node (measured: a
    node took ~15x longer when this helper took the node arrays).
    """
    if np.isnan(value):
        if missing_type == 2:  # missing: NaN
            return default_left
        value = 0.0  # NaN counts as 0 unless missing_type is NaN
    if missing_type == 1 and -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:  # missing: Zero
        return default_left
    return value <= threshold


@njit(nogil=True, cache=True)
def predict_block(
    features: np.ndarray,
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
    """``out[r] = sum over trees of the leaf row r reaches`` (arrays already validated).

    Each row is summed on its own, from 0.0, in tree order, so its result does not depend on
    the other rows.
    """
    n_trees = tree_node_offset.shape[0] - 1
    for r in range(features.shape[0]):
        row = features[r]
        total = 0.0
        for t in range(n_trees):
            base = tree_node_offset[t]
            leaf = 0
            if tree_node_offset[t + 1] > base:
                node = 0
                while node >= 0:
                    g = base + node
                    value = float(row[split_feature[g]])
                    # LightGBM's dense-matrix reader drops these values: they are exactly 0.
                    if -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
                        value = 0.0
                    if decision[g] == 1:  # CategoricalDecision
                        # NaN goes right; static_cast<int>(value) < 0 goes right: value <= -1
                        # (values in (-1, 0) truncate to 0); past the int range the cast gives
                        # INT_MIN (x86), also right.
                        go_left = False
                        if -1.0 < value < _INT_RANGE_END:  # False for NaN
                            category = np.int64(value)  # truncates toward zero, like the cast
                            bitset = cat_index[g]
                            start = cat_boundaries[bitset]
                            word = category >> 5
                            if word < cat_boundaries[bitset + 1] - start:
                                bits = np.int64(cat_threshold[start + word])
                                go_left = ((bits >> (category & 31)) & 1) == 1
                    else:
                        go_left = _numerical_left(
                            value, threshold[g], default_left[g], missing_type[g]
                        )
                    node = left[g] if go_left else right[g]
                leaf = -node - 1
            total += leaf_value[tree_leaf_offset[t] + leaf]
        out[r] = total


__all__ = [
    "ARRAY_DTYPES",
    "ZERO_THRESHOLD",
    "TreeEnsemble",
    "predict_block",
    "predict_raw",
    "predict_raw_into",
]
