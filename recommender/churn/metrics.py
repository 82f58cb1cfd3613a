"""How good a churn score is: ranking (ROC AUC, PR AUC, top-decile lift and recall) and
probability quality (Brier score, reliability table)."""

from __future__ import annotations

import numpy as np

TOP_SHARE = 0.1


def top_share_mask(score: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """The ``share`` of rows with the highest score (ties broken by row order)."""
    n_top = max(1, round(share * len(score)))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def ranking_metrics(churned: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, and the churn rate, lift and recall of the top decile by ``score``."""
    y = np.asarray(churned, dtype=np.float64)
    base = float(y.mean()) if len(y) else float("nan")
    out = {"rows": float(len(y)), "churn_rate": base}
    if len(y) == 0 or y.min() == y.max():
        return out | {"roc_auc": float("nan"), "pr_auc": float("nan")}
    from sklearn.metrics import average_precision_score, roc_auc_score  # only when measuring

    top = top_share_mask(np.asarray(score, dtype=np.float64))
    top_rate = float(y[top].mean())
    return out | {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "top_decile_rate": top_rate,
        "top_decile_lift": top_rate / base,
        "top_decile_recall": float(y[top].sum() / y.sum()),
    }


def probability_metrics(churned: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Brier score of ``probability`` and of the constant base rate; mean predicted."""
    y = np.asarray(churned, dtype=np.float64)
    if len(y) == 0:
        return {}
    from sklearn.metrics import brier_score_loss  # only when measuring

    base = np.full(len(y), y.mean())
    return {
        "brier": float(brier_score_loss(y, probability)),
        "brier_base_rate": float(brier_score_loss(y, base)),
        "mean_predicted": float(np.mean(probability)),
    }


def reliability(
    churned: np.ndarray, probability: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    """Per bin of equal counts by predicted probability: mean predicted, observed rate, rows."""
    y = np.asarray(churned, dtype=np.float64)
    order = np.argsort(probability, kind="stable")
    rows = []
    for part in np.array_split(order, min(bins, max(len(order), 1))):
        if len(part):
            rows.append(
                {
                    "predicted": float(np.mean(probability[part])),
                    "observed": float(y[part].mean()),
                    "rows": float(len(part)),
                }
            )
    return rows
