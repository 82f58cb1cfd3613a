"""The guardrail against the uniform offer: a model must beat plain popularity to serve.

Every train (and so every retrain) run evaluates the uniform offers on the same split as the
model: global popularity, popularity within the client's segment and within its industry
(``UNIFORM_BASELINES``). Per metric, the best of them is "the uniform offer", and the model's
uplift over it is ``model / uniform - 1``. The run logs ``uniform_<metric>`` and
``uplift_vs_uniform_<metric>`` (shown on ``/ds``); the registered version carries the verdict on
the deciding metric as tags (shown by ``recsys models``), and ``promote`` / ``retrain`` refuse
to make champion a version that loses to the uniform offer unless forced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from recommender.evaluation.evaluate import EvaluationResult
from training.registry import TAG_BEATS, TAG_METRIC, TAG_UPLIFT

#: The uniform offers every model is compared with: the same list for everyone (of a group).
UNIFORM_BASELINES: tuple[str, ...] = ("popularity", "segment_popularity", "industry_popularity")
#: Metrics the uplift is reported for (at the run's k, plus HR@1 and MRR).
UPLIFT_METRICS: tuple[str, ...] = ("ndcg", "hit_rate", "mrr", "recall", "hit_rate@1")


@dataclass(frozen=True)
class Guardrail:
    """The model against the uniform offer on one split."""

    metric: str
    model_value: float
    uniform_value: float
    #: The baseline that is best on ``metric``.
    uniform_model: str
    #: Per metric: the model's value, the best uniform value and the relative uplift.
    table: Mapping[str, tuple[float, float, float]]

    @property
    def uplift(self) -> float:
        return _uplift(self.model_value, self.uniform_value)

    @property
    def passed(self) -> bool:
        """The model is at least as good as the uniform offer on the deciding metric."""
        return self.model_value >= self.uniform_value

    def describe(self) -> str:
        verdict = "beats" if self.passed else "LOSES TO"
        return (
            f"{verdict} the uniform offer on {self.metric}: {self.model_value:.4f} vs "
            f"{self.uniform_value:.4f} ({self.uniform_model}), uplift {self.uplift:+.1%}"
        )

    def metrics(self, key: str) -> dict[str, float]:
        """MLflow metrics: ``uniform_<m>`` and ``uplift_vs_uniform_<m>`` (``key`` names m)."""
        out: dict[str, float] = {}
        for metric, (_, uniform, uplift) in self.table.items():
            out[f"uniform_{key_of(metric, key)}"] = uniform
            out[f"uplift_vs_uniform_{key_of(metric, key)}"] = uplift
        return out

    def tags(self) -> dict[str, str]:
        return {
            TAG_BEATS: str(self.passed).lower(),
            TAG_UPLIFT: f"{self.uplift:+.4f}",
            TAG_METRIC: self.metric,
        }


def key_of(metric: str, k_suffix: str) -> str:
    """``ndcg`` -> ``ndcg_at_10`` (the run's k); ``hit_rate@1`` -> ``hit_rate_at_1``."""
    return metric.replace("@", "_at_") if "@" in metric else f"{metric}_{k_suffix}"


def baselines_for(model: str) -> list[str]:
    """The uniform baselines to evaluate next to ``model`` (not the model itself)."""
    return [b for b in UNIFORM_BASELINES if b != model]


def guardrail(result: EvaluationResult, model: str, metric: str = "ndcg") -> Guardrail:
    """Compare ``model`` with the best uniform baseline of ``result`` (evaluated on one split)."""
    if metric not in result.models[model].metrics:
        raise ValueError(
            f"metric {metric!r} was not evaluated; known: {sorted(result.models[model].metrics)}"
        )
    # a uniform offer itself is not held to the others (it is what the guardrail falls back on)
    baselines = (
        [model]
        if model in UNIFORM_BASELINES
        else [b for b in UNIFORM_BASELINES if b in result.models]
    )
    if not baselines:
        raise ValueError("no uniform baseline was evaluated on this split")
    own = result.models[model].metrics
    table: dict[str, tuple[float, float, float]] = {}
    for name in (metric, *UPLIFT_METRICS):
        if name not in own or name in table:
            continue
        best = max(result.models[b].metrics.get(name, 0.0) for b in baselines)
        table[name] = (own[name], best, _uplift(own[name], best))
    best_model = max(baselines, key=lambda b: result.models[b].metrics.get(metric, 0.0))
    value, uniform, _ = table[metric]
    return Guardrail(metric, value, uniform, best_model, table)


def _uplift(value: float, baseline: float) -> float:
    if baseline <= 0:
        return 0.0 if value <= 0 else float("inf")
    return value / baseline - 1.0
