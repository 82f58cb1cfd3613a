"""What a churn model must beat: the base rate and the best single-feature rule.

The base rate predicts the same probability for everyone (its ROC AUC is 0.5, its Brier score
the variance of the outcome). A single-feature rule ranks clients by one feature, in the
direction that works ("fewer services, more risk"), with missing values last; the best one is
chosen on the *training* rows by ROC AUC and only then measured on the test rows, so it gets the
same honest treatment as the model. "One active service" is reported too, as the rule a
manager would use without any model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.churn.features import CATEGORICAL, COLUMN, FEATURES


@dataclass(frozen=True)
class SingleFeatureRule:
    """Score = ``sign * feature`` (NaN as the least risky value)."""

    feature: str
    sign: float
    train_auc: float

    def score(self, features: np.ndarray) -> np.ndarray:
        values = features[:, COLUMN[self.feature]].astype(np.float64) * self.sign
        missing = np.isnan(values)
        lowest = float(np.min(values[~missing])) - 1.0 if not missing.all() else 0.0
        return np.where(missing, lowest, values)

    def describe(self) -> str:
        direction = "higher" if self.sign > 0 else "lower"
        return f"{direction} {self.feature}, higher risk"


def best_single_feature(features: np.ndarray, churned: np.ndarray) -> SingleFeatureRule:
    """The feature (and direction) with the best ROC AUC on these rows."""
    from sklearn.metrics import roc_auc_score  # only when choosing (not on import of the package)

    y = np.asarray(churned, dtype=np.float64)
    best = SingleFeatureRule(FEATURES[0], 1.0, 0.5)
    for name in FEATURES:
        if name in CATEGORICAL:
            continue
        for sign in (1.0, -1.0):
            rule = SingleFeatureRule(name, sign, 0.0)
            auc = float(roc_auc_score(y, rule.score(features)))
            if auc > best.train_auc:
                best = SingleFeatureRule(name, sign, auc)
    return best


def one_service_rule(features: np.ndarray) -> np.ndarray:
    """1 for a client with at most one active service, else 0."""
    return (np.nan_to_num(features[:, COLUMN["services"]], nan=0.0) <= 1).astype(np.float64)
