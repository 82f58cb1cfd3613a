"""The churn backtest's reliability plot: predicted churn probability against the observed rate.

Bins of equal client counts (``BacktestReport.reliability``); a calibrated model's points lie on
the diagonal. Drawn with matplotlib's object API on the Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recommender.churn.backtest import BacktestReport


def reliability_chart(report: BacktestReport) -> Figure:
    """Observed churn rate per bin of predicted probability, with the diagonal and bin sizes."""
    rows = report.reliability
    predicted = [r["predicted"] for r in rows]
    observed = [r["observed"] for r in rows]
    top = max([*predicted, *observed, 0.01]) * 1.1
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, top], [0, top], color="#999999", linestyle="--", label="perfect calibration")
    ax.plot(predicted, observed, marker="o", color="#C44E52", label="model (bins of equal size)")
    for p, o, r in zip(predicted, observed, rows, strict=True):
        ax.annotate(f"{int(r['rows'])}", (p, o), textcoords="offset points", xytext=(4, -10),
                    fontsize=7, color="#555555")  # fmt: skip
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    brier = report.model.get("brier")
    base = report.base_rate.get("brier")
    quality = f"Brier {brier:.4f} vs base rate {base:.4f}" if brier is not None and base else ""
    ax.set_title(f"churn reliability, test cut-off {report.test_cutoff}\n{quality}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def save_reliability_chart(report: BacktestReport, path: Path) -> Path:
    """Write the reliability plot as a PNG (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = reliability_chart(report)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path
