"""Show an ``ExperimentReport``: rich terminal tables and a PNG of the uplifts with intervals.

The chart uses matplotlib's object API on the Agg canvas (no display, no pyplot state): one
panel per metric, one row per treatment, the relative uplift as a dot with its 95 % interval
and a line at zero; a sample-ratio mismatch is written in red in the title.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.table import Table

from recommender.experiments.results import ExperimentReport

METRIC_LABELS: dict[str, str] = {
    "conversion": "conversion",
    "revenue_per_client": "revenue per client",
}


def _pct(value: float, signed: bool = True) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3g}"


def variants_table(report: ExperimentReport) -> Table:
    """One row per variant: exposures, clients, click-through, conversion, revenue per client,
    retention (clients holding a tariff at first exposure, churned by the end, the share kept)."""
    table = Table(title=f"experiment {report.experiment}: {report.looks} daily looks")
    headers = ("variant", "exposures", "clients", "CTR", "conversion", "revenue/client",
               "held a tariff", "churned", "retention")  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header == "variant" else "right")
    for row in report.variants:
        is_control = row.variant == report.control and row.variant != "control"
        name = f"{row.variant} (control)" if is_control else row.variant
        table.add_row(
            name,
            f"{row.exposures:,}",
            f"{row.clients:,}",
            _pct(row.click_through, signed=False),
            _pct(row.conversion, signed=False),
            f"{row.revenue_per_client:,.2f}",
            f"{row.at_risk_clients:,}",
            f"{row.churned:,}",
            _pct(row.retention, signed=False),
        )
    return table


def uplift_table(report: ExperimentReport) -> Table:
    """One row per treatment and metric: uplifts with intervals and the three p-values."""
    level = f"{1 - report.alpha:.0%}"
    srm = "[red]SRM FLAGGED[/]" if report.srm.flagged else "no SRM"
    table = Table(
        title=f"uplift vs {report.control} ({level} CI); {srm} (p = {report.srm.p_value:.3g})"
    )
    for header in ("variant", "metric", "abs uplift", f"abs {level} CI", "rel uplift",
                   f"rel {level} CI", "test", "p", "mSPRT p"):  # fmt: skip
        table.add_column(header, justify="left" if header in {"variant", "metric"} else "right")
    for up in report.uplifts:
        fmt = "{:+.4f}" if up.metric == "conversion" else "{:+,.2f}"
        absolute_ci = (
            "-"
            if math.isnan(up.absolute_low)
            else f"[{fmt.format(up.absolute_low)}, {fmt.format(up.absolute_high)}]"
        )
        p_text = _p(up.p_value)
        table.add_row(
            up.variant,
            METRIC_LABELS[up.metric],
            "-" if math.isnan(up.absolute) else fmt.format(up.absolute),
            absolute_ci,
            _pct(up.relative),
            f"[{_pct(up.relative_low)}, {_pct(up.relative_high)}]",
            up.test,
            f"[bold]{p_text}[/]" if up.significant else p_text,
            f"[bold]{_p(up.sequential_p_value)}[/]"
            if up.sequential_significant
            else _p(up.sequential_p_value),
        )
    return table


def plot_uplift(report: ExperimentReport, path: Path) -> Path:
    """Write the relative-uplift chart to ``path`` (PNG) and return it."""
    metrics = list(METRIC_LABELS)
    treatments = [v.variant for v in report.variants if v.variant != report.control]
    figure = Figure(figsize=(9, 1.6 + 0.6 * len(treatments) * len(metrics)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for axis, metric in zip(axes, metrics, strict=True):
        rows = [u for u in report.uplifts if u.metric == metric]
        for y, up in enumerate(rows):
            if math.isnan(up.relative):
                continue
            colour = (
                "tab:green"
                if up.significant and up.relative > 0
                else ("tab:red" if up.significant else "tab:grey")
            )
            axis.errorbar(
                [100 * up.relative],
                [y],
                xerr=[[100 * (up.relative - up.relative_low)],
                      [100 * (up.relative_high - up.relative)]],
                fmt="o", color=colour, capsize=4,
            )  # fmt: skip
            axis.annotate(
                f"{up.relative:+.1%}  p={up.p_value:.2g}  mSPRT p={up.sequential_p_value:.2g}",
                (100 * up.relative, y),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
            )
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_yticks(range(len(rows)), [u.variant for u in rows])
        axis.set_ylim(len(rows) - 0.3, -0.7)  # first treatment on top
        axis.set_title(f"{METRIC_LABELS[metric]}: relative uplift vs {report.control}", fontsize=10)
    axes[-1].set_xlabel(f"relative uplift, % ({1 - report.alpha:.0%} confidence interval)")
    title = f"A/B test {report.experiment}"
    if report.srm.flagged:
        title += f" - SAMPLE RATIO MISMATCH (p={report.srm.p_value:.2g})"
    figure.suptitle(title, color="red" if report.srm.flagged else "black")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
