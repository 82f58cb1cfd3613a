"""The churn-risk MLflow pyfunc: ``predict(frame with client_id)`` -> each client's risk.

Logged as code (``training/churn_pyfunc_code.py``), so MLflow pickles nothing; ``load_context``
reads the ``bundle`` artifact folder: the ``ChurnModel`` (``arrays.npz`` + ``manifest.json``)
and the ``ScoreTable`` of every client as of the end of the training data (``scores.npz``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema

from recommender.churn.model import ChurnModel
from recommender.churn.scoring import ScoreTable
from training.model_env import pinned_requirements

OUTPUT_COLUMNS: tuple[str, ...] = ("client_id", "at_risk", "churn_probability")
#: What loading and scoring import (no LightGBM: the trees are arrays walked by numba).
SCORING_PACKAGES: tuple[str, ...] = ("mlflow", "numpy", "pandas", "scipy", "pydantic", "numba")


class ChurnRiskModel(PythonModel):
    """Looks clients up in the scored table; unknown clients get ``at_risk`` False, NaN."""

    def load_context(self, context: PythonModelContext) -> None:
        bundle = context.artifacts["bundle"]
        self.model = ChurnModel.load(bundle)
        self.scores = ScoreTable.load(bundle)

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        ids = [str(c) for c in model_input["client_id"].tolist()]
        rows = [self.scores.row_of.get(c) for c in ids]
        at_risk = [bool(self.scores.at_risk[r]) if r is not None else False for r in rows]
        probability = [
            float(self.scores.probability[r]) if r is not None and risk else np.nan
            for r, risk in zip(rows, at_risk, strict=True)
        ]
        return pd.DataFrame(
            {"client_id": ids, "at_risk": at_risk, "churn_probability": probability}
        )


def pip_requirements() -> list[str]:
    """Pinned requirements of the churn pyfunc, so MLflow infers none."""
    return pinned_requirements(SCORING_PACKAGES)


def signature() -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec("string", "client_id")]),
        outputs=Schema(
            [
                ColSpec("string", "client_id"),
                ColSpec("boolean", "at_risk"),
                ColSpec("double", "churn_probability"),
            ]
        ),
    )
