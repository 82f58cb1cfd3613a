"""The churn-risk model: LightGBM trees, isotonic calibration, saved as data only.

Fitting (``fit_churn_model``) holds out a fifth of the clients (all their rows, so no client is
on both sides): the trees learn on the rest, and an isotonic map from the trees' raw score
(log-odds) to the observed churn rate is fitted on the held-out fifth
(``recommender.evaluation.calibration.fit_calibration``), so the probability is calibrated on
rows the trees never saw. The model is then plain arrays: the trees as
``recommender.trees.TreeEnsemble`` (walked by numba, no LightGBM at scoring time), the
calibration's points, the feature names and vocabularies; ``save`` writes ``arrays.npz`` and
``manifest.json`` (no pickle) and ``load`` reads them back with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.atomic import atomic_output, atomic_write_bytes
from recommender.churn.features import CATEGORICAL, FEATURES, Vocabularies
from recommender.ranking.calibration import Calibration
from recommender.trees import TreeEnsemble, predict_raw

FORMAT = "churn-risk/1"
CALIBRATION_SHARE = 0.2


@dataclass(frozen=True)
class ChurnModelSettings:
    """LightGBM settings: stable rather than tuned (the data are small and noisy)."""

    num_leaves: int = 31
    min_child_samples: int = 50
    reg_lambda: float = 1.0
    n_estimators: int = 150
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    seed: int = 42

    def lightgbm_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample_bytree,
            "seed": self.seed,
            "deterministic": True,
            # one thread: OpenMP threads spin-wait, and lose badly on a shared, busy machine
            "num_threads": 1,
            "verbose": -1,
        }


@dataclass(frozen=True, eq=False)
class ChurnModel:
    """Trees + calibration + what the columns mean; ``probability`` scores a feature matrix."""

    trees: TreeEnsemble
    calibration: Calibration
    vocab: Vocabularies
    horizon_days: int
    feature_names: tuple[str, ...] = FEATURES
    #: Anything worth keeping with the model (settings, training rows, quality figures).
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trees.n_features != len(self.feature_names):
            raise ValueError(
                f"the trees read {self.trees.n_features} features, the model names "
                f"{len(self.feature_names)}"
            )

    def raw(self, features: np.ndarray) -> np.ndarray:
        """The trees' log-odds of each row (float32 C-contiguous ``(n, n_features)``)."""
        return predict_raw(self.trees, np.ascontiguousarray(features, dtype=np.float32))

    def probability(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probability of churning within ``horizon_days``, one per row."""
        return np.asarray(self.calibration.probability(self.raw(features)), dtype=np.float64)

    # ---------------------------------------------------------------------------- storage
    def save(self, directory: str | Path) -> Path:
        """``arrays.npz`` (trees, calibration) and ``manifest.json``; each written atomically."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = self.trees.to_arrays("trees_")
        arrays["calibration_z"] = np.asarray(self.calibration.z, dtype=np.float64)
        arrays["calibration_p"] = np.asarray(self.calibration.p, dtype=np.float64)
        with atomic_output(folder / "arrays.npz") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]
        manifest = {
            "format": FORMAT,
            "feature_names": list(self.feature_names),
            "vocabularies": self.vocab.to_json(),
            "horizon_days": self.horizon_days,
            "calibration": {
                "horizon": self.calibration.horizon,
                "quality": dict(self.calibration.quality),
            },
            "info": self.info,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        atomic_write_bytes(folder / "manifest.json", text.encode())
        return folder

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        """The model saved by ``save``; ``ValueError`` naming the file when it is not one."""
        folder = Path(directory)
        manifest_path = folder / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{manifest_path}: not a churn model manifest ({exc})") from exc
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{manifest_path}: format {manifest.get('format')!r}, not {FORMAT}")
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            trees = TreeEnsemble.from_arrays(npz, prefix="trees_")
            z, p = npz["calibration_z"], npz["calibration_p"]
        quality = manifest["calibration"].get("quality", {})
        calibration = Calibration(
            z,
            p,
            calibrated=True,
            horizon=str(manifest["calibration"].get("horizon", "")),
            quality=tuple((str(k), float(v)) for k, v in quality.items()),
        )
        return cls(
            trees=trees,
            calibration=calibration,
            vocab=Vocabularies.from_json(manifest["vocabularies"]),
            horizon_days=int(manifest["horizon_days"]),
            feature_names=tuple(manifest["feature_names"]),
            info=dict(manifest.get("info", {})),
        )


def calibration_holdout(client_numbers: np.ndarray, seed: int) -> np.ndarray:
    """True for the rows of the clients held out for calibration (a fixed share of clients)."""
    clients = np.unique(client_numbers)
    rng = np.random.default_rng(seed)
    held = rng.choice(clients, size=max(1, int(CALIBRATION_SHARE * len(clients))), replace=False)
    return np.isin(client_numbers, held)


def fit_churn_model(
    features: np.ndarray,
    churned: np.ndarray,
    client_numbers: np.ndarray,
    vocab: Vocabularies,
    horizon_days: int,
    settings: ChurnModelSettings | None = None,
) -> ChurnModel:
    """Trees on four fifths of the clients, isotonic calibration on the other fifth."""
    import lightgbm  # training only: scoring walks the flat trees

    from recommender.evaluation.calibration import fit_calibration

    settings = settings or ChurnModelSettings()
    y = np.asarray(churned, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        raise ValueError(
            f"cannot fit a churn model on {len(y)} rows with {int(y.sum())} churned: both "
            "outcomes are needed (more clients, or a longer history)"
        )
    held = calibration_holdout(client_numbers, settings.seed)
    x = np.ascontiguousarray(features, dtype=np.float32)
    data = lightgbm.Dataset(
        x[~held],
        y[~held],
        feature_name=list(FEATURES),
        categorical_feature=list(CATEGORICAL),
        free_raw_data=False,
    )
    booster = lightgbm.train(
        settings.lightgbm_params(), data, num_boost_round=settings.n_estimators
    )
    trees = TreeEnsemble.from_booster(booster)
    raw = predict_raw(trees, np.ascontiguousarray(x[held]))
    fit = fit_calibration(raw, y[held], horizon=f"churn within {horizon_days} days", seed=0)
    info = {
        "settings": settings.__dict__,
        "train_rows": int((~held).sum()),
        "calibration_rows": int(held.sum()),
        "churn_rate": float(y.mean()),
        "importance": dict(
            zip(FEATURES, booster.feature_importance("gain").round(1).tolist(), strict=True)
        ),
    }
    return ChurnModel(trees, fit.calibration, vocab, horizon_days, FEATURES, info)
