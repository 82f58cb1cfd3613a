"""``ServableModel``: the plain bundle of numpy arrays every model exports and serving loads.

Serving never imports implicit or lightfm: it scores with these arrays and the numba kernels.
On disk a bundle is ``arrays.npz`` (loaded with ``allow_pickle=False``) plus ``manifest.json``
holding metadata and the SHA-256 of the array file, so a corrupted artifact is refused.

Scoring modes
-------------
``factors``: score(client) = client_vector @ item_factors.T. Biases are folded in: the last
    column of ``item_factors`` is the item bias and client vectors end with a constant 1.
``item_item``: score(client) = owned_indicator @ item_item (EASE-style), so the client
    vector is built live from its owned offers. With the optional ``pair_items`` (P, 2) and
    ``pair_weights`` (P, n_items) (higher-order EASE) each owned pair ``(a, b)`` listed in
    ``pair_items`` adds its row of ``pair_weights``.
``ranker``: a second stage over ``item_item`` (the first stage): per client, gradient-boosted
    trees score the top first-stage candidates from the offer, its first-stage score and rank,
    the rest of the portfolio and the client's attributes (``recommender.ranker_features``).
    The trees and per-offer arrays are ``ranker_arrays`` (saved as ``ranker.<name>``), the
    feature spec is ``metadata["ranker"]``.
Clients the model has not seen get ``fold_in`` (ridge regression of their owned items onto
the item factors, as ALS does) or, for hybrid models, a vector built from their features
with ``client_feature_factors``; failing both, their segment's popularity.

Reasons
-------
``usage`` (share of clients who own each offer, per popularity row) and ``co_usage`` (offers
owned together, see ``CoUsageArrays``) only feed the reason texts, never the scores. Both are
optional so that bundles written before they existed still load: such a bundle just gives no
"used by" and no "often used together" reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from recommender.atomic import atomic_output, atomic_write_bytes

FORMAT_VERSION = 1
ScoringMode = Literal["factors", "item_item", "popularity", "ranker"]
RANKER_PREFIX = "ranker."


class ArtifactError(ValueError):
    """A model bundle that is missing, corrupted or incompatible."""


@dataclass(frozen=True, eq=False)
class CatalogArrays:
    """The catalog's rule masks, aligned with ``ServableModel.item_ids``.

    kind: int8 codes into ``kind_names``; family: int32 codes into ``family_names`` (-1: none);
    eligibility: bit mask (1 = B2B may buy, 2 = B2G may buy); prerequisites: CSR
    (``prereq_indptr``, ``prereq_indices``) of item indices that must be owned first;
    price and margin: float32.
    """

    kind: np.ndarray
    kind_names: tuple[str, ...]
    family: np.ndarray
    family_names: tuple[str, ...]
    eligibility: np.ndarray
    prereq_indptr: np.ndarray
    prereq_indices: np.ndarray
    price: np.ndarray
    margin: np.ndarray


@dataclass(frozen=True, eq=False)
class CoUsageArrays:
    """Offers owned together in the training data, as CSR rows over the offer to explain.

    Row ``i`` (``indptr[i]:indptr[i + 1]``) lists the partners ``o`` the data backs as "often
    used together" with ``i``, strongest first (highest lift, then most co-owners); only the
    strongest few per offer are kept, so the size grows with the catalog, not its square.
    partner: int32 item indices; count: int32 clients owning both; share: float32 share of
    ``o``'s owners who also own ``i``; lift: float32 ``share`` over the share of all clients
    owning ``i``.
    """

    indptr: np.ndarray
    partner: np.ndarray
    count: np.ndarray
    share: np.ndarray
    lift: np.ndarray

    def problems(self, n_items: int) -> list[str]:
        """What is inconsistent with a catalog of ``n_items`` (empty when nothing)."""
        n = len(self.partner)
        found = [
            what
            for ok, what in (
                (len(self.indptr) == n_items + 1, "co_usage.indptr length"),
                (len(self.indptr) > 0 and int(self.indptr[-1]) == n, "co_usage.indptr end"),
                (bool(np.all(np.diff(self.indptr) >= 0)), "co_usage.indptr order"),
                (len(self.count) == len(self.share) == len(self.lift) == n, "co_usage lengths"),
            )
            if not ok
        ]
        if n and (int(self.partner.min()) < 0 or int(self.partner.max()) >= n_items):
            found.append("co_usage.partner range")
        return found


@dataclass(frozen=True, eq=False)
class ServableModel:
    """Everything needed to rank offers for a client, as numpy arrays and JSON metadata."""

    name: str
    mode: ScoringMode
    item_ids: np.ndarray
    client_ids: np.ndarray
    catalog: CatalogArrays
    #: (n_segments, n_items) share of clients with any interaction with each offer, per
    #: segment; row names in ``segment_names``. Scores of the baselines and the cold start.
    popularity: np.ndarray
    segment_names: tuple[str, ...]
    client_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    item_item: np.ndarray | None = None
    #: LightFM-style embeddings of client features (n_features, dim) for cold start.
    client_feature_factors: np.ndarray | None = None
    client_feature_names: tuple[str, ...] = ()
    #: Ridge strength for folding in an unseen client from its owned items (None: no fold-in).
    fold_in_regularization: float | None = None
    #: Like ``popularity`` (same rows) but the share of clients who own the offer: what the
    #: reason "used by 63 % of healthcare clients" quotes. None: no such reason.
    usage: np.ndarray | None = None
    #: Offers owned together, for "often used together with ...". None: no such reason.
    co_usage: CoUsageArrays | None = None
    #: ``ranker`` mode: the tree ensemble and per-offer arrays by name (see the module).
    ranker_arrays: dict[str, np.ndarray] | None = None
    #: ``item_item`` mode, optional: int32 (P, 2) offer pairs ``a < b`` and the float32
    #: (P, n_items) scores owning both adds (see the module).
    pair_items: np.ndarray | None = None
    pair_weights: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    _ARRAYS = (
        "item_ids",
        "client_ids",
        "popularity",
        "client_factors",
        "item_factors",
        "item_item",
        "client_feature_factors",
        "usage",
        "pair_items",
        "pair_weights",
    )

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``arrays.npz`` and ``manifest.json`` into ``directory`` atomically."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name in self._ARRAYS:
            value = getattr(self, name)
            if value is not None:
                arrays[name] = _plain(value)
        for f in fields(CatalogArrays):
            value = getattr(self.catalog, f.name)
            if isinstance(value, np.ndarray):
                arrays[f"catalog.{f.name}"] = value
        if self.co_usage is not None:
            for f in fields(CoUsageArrays):
                arrays[f"co_usage.{f.name}"] = getattr(self.co_usage, f.name)
        for name, value in (self.ranker_arrays or {}).items():
            arrays[RANKER_PREFIX + name] = value
        npz_tmp = _atomic_npz(target / "arrays.npz", arrays)
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "mode": self.mode,
            "segment_names": list(self.segment_names),
            "client_feature_names": list(self.client_feature_names),
            "kind_names": list(self.catalog.kind_names),
            "family_names": list(self.catalog.family_names),
            "fold_in_regularization": self.fold_in_regularization,
            "metadata": self.metadata,
            "arrays_sha256": _sha256(npz_tmp),
        }
        _atomic_write_text(target / "manifest.json", json.dumps(manifest, indent=2, default=str))
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ServableModel:
        """Load and verify a bundle; ``ArtifactError`` says what is wrong with it."""
        source = Path(directory)
        manifest_path, npz_path = source / "manifest.json", source / "arrays.npz"
        for path in (manifest_path, npz_path):
            if not path.is_file():
                raise ArtifactError(f"model bundle {source}: missing {path.name}")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{manifest_path}: not valid JSON ({exc})") from exc
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{manifest_path}: format_version {manifest.get('format_version')!r} is not "
                f"supported (expected {FORMAT_VERSION})"
            )
        if _sha256(npz_path) != manifest.get("arrays_sha256"):
            raise ArtifactError(f"{npz_path}: checksum mismatch, the artifact is corrupted")
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        catalog = CatalogArrays(
            kind_names=tuple(manifest["kind_names"]),
            family_names=tuple(manifest["family_names"]),
            **{
                f.name: arrays[f"catalog.{f.name}"]
                for f in fields(CatalogArrays)
                if f"catalog.{f.name}" in arrays
            },
        )
        model = cls(
            name=manifest["name"],
            mode=manifest["mode"],
            catalog=catalog,
            segment_names=tuple(manifest["segment_names"]),
            client_feature_names=tuple(manifest["client_feature_names"]),
            fold_in_regularization=manifest["fold_in_regularization"],
            metadata=manifest["metadata"],
            item_ids=arrays["item_ids"].astype(object),
            client_ids=arrays["client_ids"].astype(object),
            popularity=arrays["popularity"],
            client_factors=arrays.get("client_factors"),
            item_factors=arrays.get("item_factors"),
            item_item=arrays.get("item_item"),
            client_feature_factors=arrays.get("client_feature_factors"),
            usage=arrays.get("usage"),
            pair_items=arrays.get("pair_items"),
            pair_weights=arrays.get("pair_weights"),
            co_usage=_co_usage(arrays, npz_path),
            ranker_arrays={
                key[len(RANKER_PREFIX) :]: value
                for key, value in arrays.items()
                if key.startswith(RANKER_PREFIX)
            }
            or None,
        )
        model.validate()
        return model

    def validate(self) -> None:
        """Check shapes agree; ``ArtifactError`` names the first disagreement."""
        n = self.n_items
        checks: list[tuple[bool, str]] = [
            (self.popularity.shape == (len(self.segment_names), n), "popularity shape"),
            (len(self.catalog.kind) == n, "catalog.kind length"),
            (len(self.catalog.prereq_indptr) == n + 1, "catalog.prereq_indptr length"),
        ]
        if self.usage is not None:
            checks.append((self.usage.shape == self.popularity.shape, "usage shape"))
        if self.co_usage is not None:
            checks.extend((False, what) for what in self.co_usage.problems(n))
        if self.mode == "factors":
            checks.append((self.item_factors is not None, "factors mode needs item_factors"))
            if self.item_factors is not None:
                checks.append((self.item_factors.shape[0] == n, "item_factors rows"))
                if self.client_factors is not None:
                    checks.append(
                        (
                            self.client_factors.shape
                            == (len(self.client_ids), self.item_factors.shape[1]),
                            "client_factors shape",
                        )
                    )
        if self.mode == "item_item":
            checks.append(
                (self.item_item is not None and self.item_item.shape == (n, n), "item_item shape")
            )
        checks.extend((False, what) for what in self._pair_problems())
        if self.mode == "ranker":
            checks.append(
                (self.item_item is not None and self.item_item.shape == (n, n), "item_item shape")
            )
            checks.extend((False, what) for what in self._ranker_problems())
        for ok, what in checks:
            if not ok:
                raise ArtifactError(f"model {self.name!r}: incompatible arrays ({what})")

    def _pair_problems(self) -> list[str]:
        """What is wrong with ``pair_items`` / ``pair_weights`` (empty when nothing)."""
        items, weights = self.pair_items, self.pair_weights
        if items is None and weights is None:
            return []
        if items is None or weights is None:
            return ["pair_items and pair_weights come together"]
        if self.mode != "item_item":
            return [f"pair_items in {self.mode!r} mode (item_item only)"]
        n = self.n_items
        if items.ndim != 2 or items.shape[1:] != (2,) or items.dtype.kind not in "iu":
            return ["pair_items shape or dtype (P, 2) integers"]
        if weights.shape != (len(items), n) or weights.dtype.kind != "f":
            return ["pair_weights shape or dtype (len(pair_items), n_items) floats"]
        if len(items) == 0:
            return []
        found = []
        if int(items.min()) < 0 or int(items.max()) >= n:
            found.append("pair_items range")
        elif bool(np.any(items[:, 0] >= items[:, 1])):
            found.append("pair_items order (a < b)")
        elif len(np.unique(items[:, 0].astype(np.int64) * n + items[:, 1])) != len(items):
            found.append("pair_items duplicates")
        return found

    def _ranker_problems(self) -> list[str]:
        """What keeps ``ranker`` mode from scoring (the checks name the array or key)."""
        from recommender.ranker_features import RankerParts  # numba: only ranker bundles

        try:
            RankerParts.from_bundle(self.item_item, self.ranker_arrays, self.metadata)
        except ValueError as exc:
            return [str(exc)]
        return []


def _co_usage(arrays: dict[str, np.ndarray], source: Path) -> CoUsageArrays | None:
    """The co-usage arrays of a bundle; None for bundles written before they existed."""
    keys = {f.name: f"co_usage.{f.name}" for f in fields(CoUsageArrays)}
    present = [key for key in keys.values() if key in arrays]
    if not present:
        return None
    if len(present) < len(keys):
        missing = sorted(set(keys.values()) - set(present))
        raise ArtifactError(f"{source}: incomplete co-usage arrays (missing {missing})")
    return CoUsageArrays(**{name: arrays[key] for name, key in keys.items()})


def _plain(array: np.ndarray) -> np.ndarray:
    """Object arrays of strings become unicode arrays so they load without pickle."""
    if array.dtype == object:
        return np.asarray(array.astype(str))
    return array


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_output(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
