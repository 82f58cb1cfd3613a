"""The MLflow pyfunc model: ranked offers for a frame of client ids, from numpy + JSON files.

The model is logged with MLflow's *models from code* (``training/pyfunc_code.py``), so MLflow
pickles nothing: loading it runs that file, and ``load_context`` reads two artifact folders,

- ``bundle``: the ``ServableModel`` (``arrays.npz`` + ``manifest.json``);
- ``clients``: a ``ClientTable`` with what each training client owned, its segment, industry
  and feature names (``clients.npz``), because a pyfunc call only carries client ids.

Both are read with ``allow_pickle=False``. Scoring and ranking are the same code serving uses
(``RankingModel`` + ``RankingPolicy``), so ``predict`` returns what the service would. An unknown
client gets its popularity fallback (the ``all`` row), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from recommender.dataset import Dataset
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.servable import ArtifactError, ServableModel
from training.model_env import pinned_requirements

CODE_PATH = Path(__file__).with_name("pyfunc_code.py")
DEFAULT_K = 10
OUTPUT_COLUMNS: tuple[str, ...] = ("client_id", "rank", "item_id", "score")


@dataclass(frozen=True, eq=False)
class ClientTable:
    """Per training client: owned item indices and feature names (CSR), segment, industry."""

    client_ids: np.ndarray
    owned_indptr: np.ndarray
    owned_indices: np.ndarray
    feature_indptr: np.ndarray
    feature_indices: np.ndarray
    feature_names: np.ndarray
    segment: np.ndarray
    industry: np.ndarray

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {str(c): i for i, c in enumerate(self.client_ids.tolist())}

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ClientTable:
        matrix, features = dataset.interactions, dataset.client_features.matrix
        return cls(
            client_ids=np.array(dataset.client_ids.external.tolist(), dtype=str),
            owned_indptr=np.asarray(matrix.indptr, dtype=np.int64),
            owned_indices=np.asarray(matrix.indices, dtype=np.int64),
            feature_indptr=np.asarray(features.indptr, dtype=np.int64),
            feature_indices=np.asarray(features.indices, dtype=np.int64),
            feature_names=np.asarray(dataset.client_features.names, dtype=str),
            segment=_text_column(dataset.clients, "segment", dataset.n_clients),
            industry=_text_column(dataset.clients, "industry", dataset.n_clients),
        )

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays = {k: v.astype(str) if v.dtype == object else v for k, v in arrays.items()}
        np.savez(directory / "clients.npz", **arrays)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ClientTable:
        path = Path(directory) / "clients.npz"
        if not path.is_file():
            raise ArtifactError(f"client table {path} is missing")
        with np.load(path, allow_pickle=False) as npz:
            return cls(**{key: npz[key] for key in npz.files})

    def block(self, client_ids: list[str], model_index: dict[str, int]) -> ClientBlock:
        """The clients as a ``ClientBlock`` (unknown ids: nothing owned, no attributes)."""
        rows = [self.row_of.get(c) for c in client_ids]
        owned = [
            self.owned_indices[self.owned_indptr[r] : self.owned_indptr[r + 1]]
            if r is not None
            else np.empty(0, dtype=np.int64)
            for r in rows
        ]
        counts = np.array([len(o) for o in owned], dtype=np.int64)
        profiles: list[dict[str, Any]] = []
        for r in rows:
            profile: dict[str, Any] = {}
            if r is not None:
                profile["segment"] = str(self.segment[r]) or None
                profile["industry"] = str(self.industry[r]) or None
                cols = self.feature_indices[self.feature_indptr[r] : self.feature_indptr[r + 1]]
                for name in self.feature_names[cols].tolist():
                    column, _, value = str(name).partition("=")
                    profile.setdefault(column, value)
            profiles.append(profile)
        columns = {"segment", "industry"}.union(*profiles)
        attributes = {c: [p.get(c) for p in profiles] for c in sorted(columns)}
        return ClientBlock(
            tuple(client_ids),
            np.array([model_index.get(c, -1) for c in client_ids], dtype=np.int64),
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            np.concatenate([np.empty(0, dtype=np.int64), *owned]).astype(np.int64),
            attributes,
        )


def _text_column(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame:
        return np.full(n, "", dtype=str)
    return np.array(["" if pd.isna(v) else str(v) for v in frame[column].tolist()], dtype=str)


class OffersModel(PythonModel):
    """``predict(frame with client_id[, k])`` -> client_id, rank (1-based), item_id, score."""

    def __init__(self) -> None:
        self._ranking: RankingModel | None = None
        self._clients: ClientTable | None = None
        self._policy = RankingPolicy.from_settings()

    def load_context(self, context: PythonModelContext) -> None:
        servable = ServableModel.load(context.artifacts["bundle"])
        self.attach(servable, ClientTable.load(context.artifacts["clients"]))

    def attach(self, servable: ServableModel, clients: ClientTable) -> None:
        """Use an already loaded bundle (tests, and anyone holding the arrays in memory)."""
        self._ranking = RankingModel(servable)
        self._clients = clients

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self._ranking is None or self._clients is None:
            raise RuntimeError("OffersModel used before load_context")
        frame = pd.DataFrame(model_input)
        if "client_id" not in frame:
            raise ValueError("input frame needs a 'client_id' column")
        k = _requested_k(frame, params)
        model = self._ranking
        ids = frame["client_id"].astype(str).tolist()
        block = self._clients.block(ids, model.client_index)
        ranked = self._policy.rank(model, block, self._policy.rules(k))
        rows = []
        for n, client_id in enumerate(ids):
            for rank, col in enumerate(np.flatnonzero(ranked.items[n] >= 0), start=1):
                item = int(ranked.items[n, col])
                rows.append((client_id, rank, model.item_ids[item], float(ranked.scores[n, col])))
        out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
        return out.astype({"client_id": str, "rank": np.int64, "item_id": str, "score": float})


def _requested_k(frame: pd.DataFrame, params: dict[str, Any] | None) -> int:
    if "k" in frame and frame["k"].notna().any():
        k = int(frame["k"].dropna().iloc[0])
    else:
        k = int((params or {}).get("k", DEFAULT_K))
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return k


def signature() -> ModelSignature:
    """Input: client_id (str), optional k (long); param k; output: one row per offer."""
    return ModelSignature(
        inputs=Schema([ColSpec("string", "client_id"), ColSpec("long", "k", required=False)]),
        outputs=Schema(
            [
                ColSpec("string", "client_id"),
                ColSpec("long", "rank"),
                ColSpec("string", "item_id"),
                ColSpec("double", "score"),
            ]
        ),
        params=ParamSchema([ParamSpec("k", "long", DEFAULT_K)]),
    )


def input_example(servable: ServableModel, n: int = 2) -> pd.DataFrame:
    ids = [str(c) for c in servable.client_ids[:n]] or ["unknown-client"]
    return pd.DataFrame({"client_id": ids})


#: What scoring imports (no implicit / lightfm: serving does not need them).
SCORING_PACKAGES: tuple[str, ...] = ("mlflow", "numpy", "pandas", "scipy", "pydantic", "numba")


def pip_requirements() -> list[str]:
    """Pinned scoring-path requirements, so MLflow infers none."""
    return pinned_requirements(SCORING_PACKAGES)
