"""Write an ``EvaluationResult`` as ``report.json``, top-k CSVs and PNG charts.

Charts are drawn with matplotlib's object API on the Agg canvas (no display, no pyplot state):
one metric bar chart per model, a comparison chart across models, and per model a heatmap of
group (industry) x offer: the share of each industry's clients to whom each offer is
recommended. A uniform offer shows as vertical stripes; personalization as a patchwork.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recommender.evaluation.evaluate import EvaluationResult
from recommender.evaluation.metrics import ALL_METRICS

#: Metrics that live on [0, 1] and share one axis; novelty (bits) is shown in the title.
UNIT_METRICS: tuple[str, ...] = tuple(m for m in ALL_METRICS if m != "novelty")
HEATMAP_MAX_OFFERS = 30
#: Resolution of the PNGs: every label stays legible (the heatmap's offer names are 7 pt).
DPI = 90
#: zlib level of the PNGs: fastest (the charts are flat colours; files grow by about a tenth).
PNG_COMPRESSION = 1


def report_dict(result: EvaluationResult) -> dict[str, Any]:
    """The JSON-ready content of a report (NaN becomes null)."""
    return _clean(
        {
            "split": result.split,
            "k": result.k,
            "seed": result.seed,
            "group_column": result.group_column,
            "n_test_clients": len(result.clients),
            "n_train_events": result.n_train_events,
            "n_test_events": result.n_test_events,
            "best_model_by_ndcg": result.best("ndcg") if result.models else None,
            "models": {
                name: {
                    "config": m.config,
                    "fit_seconds": m.fit_seconds,
                    "recommend_seconds": m.recommend_seconds,
                    "metrics": m.metrics,
                    "by_group": m.by_group,
                }
                for name, m in result.models.items()
            },
        }
    )


def write_report(
    result: EvaluationResult, out_dir: str | Path, models: Collection[str] | None = None
) -> list[Path]:
    """Write report.json, the comparison chart and, per model of ``models`` (default: all),
    topk_<model>.csv and its PNGs into ``out_dir``; return the paths. Every model stays in the
    JSON and the comparison (a training run charts its own model, not the baselines)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    written[0].write_text(json.dumps(report_dict(result), indent=2))
    for name in result.models:
        if models is not None and name not in models:
            continue
        csv = out / f"topk_{name}.csv"
        result.top_k(name).to_csv(csv, index=False)
        written.append(csv)
        written.append(_save(metric_chart(result, name), out / f"metrics_{name}.png"))
        written.append(_save(offer_heatmap(result, name), out / f"heatmap_{name}.png"))
    if result.models:
        written.append(_save(comparison_chart(result), out / "comparison.png"))
    return written


def metric_chart(result: EvaluationResult, model: str) -> Figure:
    """Bar chart of one model's [0, 1] metrics, values printed on the bars."""
    metrics = result.models[model].metrics
    values = [_nan_to_zero(metrics.get(m)) for m in UNIT_METRICS]
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(UNIT_METRICS, values, color=["#4C72B0"] * 6 + ["#DD8452"] * 3)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("value")
    ax.set_title(
        f"{model}: metrics@{result.k} on the {result.split} split "
        f"({len(result.clients)} test clients, novelty {_nan_to_zero(metrics.get('novelty')):.2f}"
        " bits)"
    )
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def comparison_chart(result: EvaluationResult) -> Figure:
    """Grouped bars: each [0, 1] metric, one bar per model."""
    names = list(result.models)
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(UNIT_METRICS))
    for i, name in enumerate(names):
        metrics = result.models[name].metrics
        values = [_nan_to_zero(metrics.get(m)) for m in UNIT_METRICS]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(x, UNIT_METRICS, rotation=30)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Model comparison, metrics@{result.k}, {result.split} split")
    ax.legend(ncols=min(len(names), 4), fontsize=8)
    return fig


def offer_shares(result: EvaluationResult, model: str) -> pd.DataFrame:
    """Group x offer share of the group's test clients who get the offer in their top k."""
    lists = result.top_k(model)
    sizes = pd.Series(result.client_groups).value_counts()
    counts = lists.groupby(["group", "item_id"]).size().unstack(fill_value=0)
    shares = counts.div(sizes.reindex(counts.index), axis=0)
    top = lists["item_id"].value_counts().index[:HEATMAP_MAX_OFFERS]
    return shares.reindex(columns=top, fill_value=0.0).sort_index()


def offer_heatmap(result: EvaluationResult, model: str) -> Figure:
    """Heatmap of ``offer_shares``: which offers each group is recommended."""
    shares = offer_shares(result, model)
    kind_of = dict(zip(result.item_ids.tolist(), result.item_kinds.tolist(), strict=True))
    label_of = dict(zip(result.item_ids.tolist(), result.item_labels.tolist(), strict=True))
    n_rows, n_cols = shares.shape
    fig = Figure(figsize=(max(6.0, 0.35 * n_cols + 3), max(3.0, 0.4 * n_rows + 2.2)))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    values = shares.to_numpy(dtype=float)
    top = float(values.max()) if values.size else 1.0  # scale to the data: shares are small
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=max(top, 1e-9))
    ax.set_xticks(
        range(n_cols),
        [
            f"{_short(label_of.get(item, item))} ({kind_of.get(item, '?')})"
            for item in shares.columns
        ],
        rotation=90,
        fontsize=7,
    )
    ax.set_yticks(range(n_rows), [str(g) for g in shares.index], fontsize=8)
    ax.set_xlabel(f"offer (the {n_cols} most recommended)")
    ax.set_ylabel(result.group_column or "group")
    ax.set_title(f"{model}: share of clients recommended each offer (top {result.k})")
    fig.colorbar(image, ax=ax, label="share of clients")
    return fig


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return path


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _nan_to_zero(value: float | None) -> float:
    return 0.0 if value is None or math.isnan(value) else float(value)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
