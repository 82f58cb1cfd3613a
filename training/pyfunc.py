"""The MLflow pyfunc model: ranked offers for a frame of client ids, from numpy + JSON files.

The model is logged with MLflow's *models from code* (``training/pyfunc_code.py``), so MLflow
pickles nothing: loading it runs that file, and ``load_context`` reads two artifact folders,

- ``bundle``: the ``ServableModel`` (``arrays.npz`` + ``manifest.json``);
- ``clients``: a ``ClientTable`` with what each training client owned, its segment, industry
  and feature names (``clients.npz``), because a pyfunc call only carries client ids.

Both are read with ``allow_pickle=False``. Scoring and ranking are the same code serving uses
(``Scorer`` + the ranking rules), so ``predict`` returns what the service would. An unknown
client gets its popularity fallback (the ``all`` row), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from recommender.dataset import Dataset
from recommender.models.base import fallback_rows
from recommender.ranking import RankingRules, rank_scores
from recommender.scoring import Scorer
from recommender.servable import ArtifactError, ServableModel

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

    def describe(self, client_id: str) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], str]:
        """Owned items, feature names, popularity rows and segment of a client ('' if unknown)."""
        row = self.row_of.get(client_id)
        if row is None:
            return np.empty(0, dtype=np.int64), (), ("all",), ""
        owned = self.owned_indices[self.owned_indptr[row] : self.owned_indptr[row + 1]]
        cols = self.feature_indices[self.feature_indptr[row] : self.feature_indptr[row + 1]]
        segment, industry = str(self.segment[row]), str(self.industry[row])
        rows = fallback_rows(industry or None, segment or None)
        return owned, tuple(self.feature_names[cols].tolist()), rows, segment


def _text_column(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame:
        return np.full(n, "", dtype=str)
    return np.array(["" if pd.isna(v) else str(v) for v in frame[column].tolist()], dtype=str)


class OffersModel(PythonModel):
    """``predict(frame with client_id[, k])`` -> client_id, rank (1-based), item_id, score."""

    def __init__(self) -> None:
        self._scorer: Scorer | None = None
        self._clients: ClientTable | None = None
        self._index: dict[str, int] = {}

    def load_context(self, context: PythonModelContext) -> None:
        servable = ServableModel.load(context.artifacts["bundle"])
        self.attach(servable, ClientTable.load(context.artifacts["clients"]))

    def attach(self, servable: ServableModel, clients: ClientTable) -> None:
        """Use an already loaded bundle (tests, and anyone holding the arrays in memory)."""
        self._scorer = Scorer(servable)
        self._clients = clients
        self._index = {str(c): i for i, c in enumerate(servable.client_ids)}

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self._scorer is None or self._clients is None:
            raise RuntimeError("OffersModel used before load_context")
        frame = pd.DataFrame(model_input)
        if "client_id" not in frame:
            raise ValueError("input frame needs a 'client_id' column")
        k = _requested_k(frame, params)
        model, rows = self._scorer.model, []
        for client_id in frame["client_id"].astype(str):
            owned, features, segment_rows, segment = self._clients.describe(client_id)
            scores = self._scorer.scores(
                self._index.get(client_id), owned, features=features, segment_rows=segment_rows
            )
            top, top_scores = rank_scores(
                scores, owned, model.catalog, segment or None, RankingRules(k)
            )
            for rank, (item, score) in enumerate(zip(top, top_scores, strict=True), start=1):
                rows.append((client_id, rank, str(model.item_ids[item]), float(score)))
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


def pip_requirements() -> list[str]:
    """Pinned scoring-path requirements (no implicit / lightfm: serving does not need them)."""
    pins = []
    for package in ("mlflow", "numpy", "pandas", "scipy", "pydantic", "numba"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:  # pragma: no cover - numba is optional for the pyfunc
            continue
    return pins
