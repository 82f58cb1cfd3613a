"""The per-variant A/B report built from the event log.

A client enters a variant at its first impression carrying the experiment (``experiment``
and ``variant`` columns); clients seen in two variants are dropped and counted. Per variant:
exposures (impressions), clients, click-through (clicks / impressions; a plain click without
the experiment counts by its request id or the client's exposure), conversion (clients
with a purchase, subscription start or enrolment at or after their first exposure / clients),
revenue per client (sum of ``value`` of those events / clients) and retention (of the clients
holding a tariff at first exposure, the share still holding one at the window's end:
``recommender.experiments.retention``). Every other variant is
compared with the control (the first variant): z-test on conversion, Welch on revenue per
client, with 95 % intervals, plus an always-valid mSPRT p-value from daily looks (each look
uses the clients exposed and the events seen by the end of that day).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recommender.experiments.config import HOLDOUT_VARIANT, Experiment
from recommender.experiments.results import (
    ExperimentReport,
    Metric,
    SrmSummary,
    Uplift,
    VariantStats,
)
from recommender.experiments.retention import tariff_ids, variant_retention
from recommender.experiments.sequential import DEFAULT_RELATIVE_TAU, msprt_means, msprt_proportions
from recommender.experiments.stats import (
    SRM_THRESHOLD,
    Comparison,
    proportion_test,
    sample_ratio_mismatch,
    welch_test,
)

CONVERSION_EVENTS: tuple[str, ...] = ("purchase", "subscription_start", "enrolment")
EVENT_COLUMNS: tuple[str, ...] = (
    "event_type",
    "client_id",
    "experiment",
    "variant",
    "value",
    "timestamp",
)
LOOK_EVERY = pd.Timedelta(days=1)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def _check_columns(events: pd.DataFrame) -> None:
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        found = ", ".join(map(str, events.columns)) or "none"
        raise ValueError(f"events lack column(s) {', '.join(missing)} (columns found: {found})")


def _attributed_clicks(
    frame: pd.DataFrame, impressions: pd.DataFrame, clients: pd.DataFrame, name: str
) -> pd.DataFrame:
    """Clicks of exposed clients credited to their variant.

    A click counts when it names the experiment, or (a plain click, as the client cabinet
    sends it: no experiment, no variant) when it repeats the ``request_id`` of one of the
    experiment's impressions or comes at or after the client's first exposure.
    """
    candidates = frame.loc[
        (frame["event_type"] == "click") & frame["client_id"].isin(clients.index)
    ]
    tagged = candidates["experiment"] == name
    plain = candidates["experiment"].isna() | (candidates["experiment"].astype(str) == "")
    in_window = candidates["timestamp"] >= candidates["client_id"].map(clients["first_seen"])
    if "request_id" in candidates.columns:
        shown = set(impressions["request_id"].dropna().astype(str))
        same_request = candidates["request_id"].astype(str).isin(shown)
    else:
        same_request = pd.Series(False, index=candidates.index)
    clicks = candidates.loc[tagged | (plain & (same_request | in_window))].copy()
    clicks["variant"] = clicks["client_id"].map(clients["variant"])
    return clicks


def _exposed_clients(
    impressions: pd.DataFrame, variants: Sequence[str]
) -> tuple[pd.DataFrame, int]:
    """Per client: variant and first exposure; clients seen in several variants dropped."""
    ordered = impressions.sort_values("timestamp", kind="stable")
    grouped = ordered.groupby("client_id", sort=True).agg(
        variant=("variant", "first"),
        n_variants=("variant", "nunique"),
        first_seen=("timestamp", "min"),
    )
    mixed = grouped["n_variants"] > 1
    clients = grouped.loc[~mixed & grouped["variant"].isin(variants), ["variant", "first_seen"]]
    return clients, int(mixed.sum())


def _arm_totals(
    clients: pd.DataFrame, revenue: pd.Series, converted: pd.Series, variants: Sequence[str]
) -> pd.DataFrame:
    """n, conversions, revenue sum and sum of squares per variant (index in variant order)."""
    frame = pd.DataFrame(
        {
            "variant": clients["variant"],
            "n": 1.0,
            "x": converted.astype(np.float64),
            "s": revenue,
            "ss": revenue**2,
        }
    )
    return frame.groupby("variant").sum().reindex(list(variants), fill_value=0.0)


def _variance(totals: pd.DataFrame) -> np.ndarray:
    n = totals["n"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((totals["ss"] - totals["s"] ** 2 / n) / (n - 1), dtype=np.float64)


def _uplift(
    metric: Metric, variant: str, result: Comparison, index: int, seq_p: float, alpha: float
) -> Uplift:
    def pick(values: np.ndarray) -> float:
        return float(np.broadcast_to(values, result.absolute.shape)[index])

    p_value = pick(result.p_value)
    return Uplift(
        metric=metric,
        variant=variant,
        test="z" if metric == "conversion" else "welch",
        control=pick(result.control),
        treatment=pick(result.treatment),
        absolute=pick(result.absolute),
        absolute_low=pick(result.absolute_low),
        absolute_high=pick(result.absolute_high),
        relative=pick(result.relative),
        relative_low=pick(result.relative_low),
        relative_high=pick(result.relative_high),
        statistic=pick(result.statistic),
        p_value=p_value,
        sequential_p_value=seq_p,
        significant=bool(p_value < alpha),
        sequential_significant=bool(seq_p < alpha),
    )


def _variant_plan(
    impressions: pd.DataFrame, experiment: Experiment | str, control: str | None
) -> tuple[list[str], list[float], list[str]]:
    """Variant names (control first), their weights and warnings about the variants seen."""
    seen = sorted(impressions["variant"].astype(str).unique())
    if not isinstance(experiment, str):
        unknown = sorted(set(seen) - {v.name for v in experiment.variants})
        notes = (
            [f"impressions of unknown variants ignored: {', '.join(unknown)}"] if unknown else []
        )
        return [v.name for v in experiment.variants], list(experiment.weights), notes
    by_first = impressions.sort_values("timestamp", kind="stable")["variant"].astype(str)
    lead = control or ("control" if "control" in seen else str(by_first.iloc[0]))
    if lead not in seen:
        raise ValueError(f"control {lead!r} has no impressions; variants seen: {seen}")
    if len(seen) < 2:
        raise ValueError(f"experiment {experiment!r} has impressions of one variant only: {seen}")
    return [lead, *(v for v in seen if v != lead)], [1.0] * len(seen), []


def _daily_looks(
    clients: pd.DataFrame, conversions: pd.DataFrame, variants: list[str], last: pd.Timestamp
) -> list[pd.DataFrame]:
    """Arm totals at the end of each day: clients exposed and conversions seen by then."""
    first = clients["first_seen"].min()
    boundaries = pd.date_range(first.floor("D") + LOOK_EVERY, last + LOOK_EVERY, freq=LOOK_EVERY)
    looks = []
    for boundary in boundaries:
        early = conversions.loc[conversions["timestamp"] < boundary]
        revenue = early.groupby("client_id")["value"].sum()
        exposed = clients.loc[clients["first_seen"] < boundary]
        converted = exposed.index.to_series().isin(early["client_id"])
        looks.append(
            _arm_totals(
                exposed, revenue.reindex(exposed.index, fill_value=0.0), converted, variants
            )
        )
    return looks


def _uplifts(
    looks: list[pd.DataFrame], variants: list[str], alpha: float, relative_tau: float
) -> list[Uplift]:
    """Each treatment (rows 1..) vs the control (row 0): final tests and mSPRT over the looks."""
    n, x, s = (np.stack([look[c].to_numpy() for look in looks], axis=1) for c in ("n", "x", "s"))
    var = np.stack([_variance(look) for look in looks], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
    conv = proportion_test(x[0, -1], n[0, -1], x[1:, -1], n[1:, -1], alpha)
    rev = welch_test(mean[0, -1], var[0, -1], n[0, -1], mean[1:, -1], var[1:, -1], n[1:, -1], alpha)
    # The mixture scale is a share of the pooled mean (not of the difference): fine under H0.
    tau_conv = relative_tau * x[:, -1].sum() / n[:, -1].sum()
    tau_rev = relative_tau * s[:, -1].sum() / n[:, -1].sum()
    seq_conv = msprt_proportions(x[0], n[0], x[1:], n[1:], tau_conv)[:, -1]
    seq_rev = msprt_means(mean[0], var[0], n[0], mean[1:], var[1:], n[1:], tau_rev)[:, -1]
    uplifts: list[Uplift] = []
    for j, variant in enumerate(variants[1:]):
        uplifts.append(_uplift("conversion", variant, conv, j, float(seq_conv[j]), alpha))
        uplifts.append(_uplift("revenue_per_client", variant, rev, j, float(seq_rev[j]), alpha))
    return uplifts


def _summaries(
    final: pd.DataFrame,
    impressions: pd.DataFrame,
    clicks: pd.DataFrame,
    variants: list[str],
    retention: pd.DataFrame | None = None,
) -> list[VariantStats]:
    retention_rows = {} if retention is None else retention.to_dict("index")
    exposures = impressions.groupby("variant").size().reindex(variants, fill_value=0)
    click_counts = clicks.groupby("variant").size().reindex(variants, fill_value=0)
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for v in variants:
            n, x, s = final.loc[v, ["n", "x", "s"]].to_numpy(dtype=np.float64)
            rows.append(
                VariantStats(
                    variant=v,
                    exposures=int(exposures[v]),
                    clients=int(n),
                    clicks=int(click_counts[v]),
                    click_through=float(np.float64(click_counts[v]) / exposures[v]),
                    conversions=int(x),
                    conversion=float(np.float64(x) / n),
                    revenue=float(s),
                    revenue_per_client=float(np.float64(s) / n),
                    **({} if retention is None else _retention_fields(retention_rows[v])),
                )
            )
    return rows


def _retention_fields(row: Mapping[Hashable, Any]) -> dict[str, float | int]:
    return {
        "at_risk_clients": int(row["at_risk_clients"]),
        "churned": int(row["churned"]),
        "churn_rate": float(row["churn_rate"]),
        "retention": float(row["retention"]),
    }


def build_report(
    events: pd.DataFrame,
    experiment: Experiment | str,
    *,
    control: str | None = None,
    alpha: float = 0.05,
    relative_tau: float = DEFAULT_RELATIVE_TAU,
    srm_threshold: float = SRM_THRESHOLD,
    history: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
) -> ExperimentReport:
    """Analyse one experiment from an events frame with ``EVENT_COLUMNS``.

    With an ``Experiment`` the variant order (control first), weights (for the SRM check) and
    end come from it. With a bare name the variants are those seen, ``control`` (default: one
    named ``control``, else the first variant shown) leads, and the SRM check assumes equal
    weights.

    Retention per variant (churn within the window, ``recommender.experiments.retention``)
    replays what clients hold from ``history`` (default: ``events``, when it names offers);
    ``items`` tells tariffs apart (``kind``).
    """
    _check_columns(events)
    name = experiment if isinstance(experiment, str) else experiment.name
    extra = ["request_id"] if "request_id" in events.columns else []
    frame = events.loc[:, [*EVENT_COLUMNS, *extra]].copy()
    frame["timestamp"] = _utc(frame["timestamp"])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").fillna(0.0)
    if not isinstance(experiment, str) and experiment.end is not None:
        frame = frame.loc[frame["timestamp"] < pd.Timestamp(experiment.end)]
    ours = frame.loc[(frame["experiment"] == name) & (frame["variant"] != HOLDOUT_VARIANT)]
    impressions = ours.loc[ours["event_type"] == "impression"].dropna(subset=["variant"])
    if impressions.empty:
        raise ValueError(f"no impressions of experiment {name!r} in the events")
    variants, weights, warnings = _variant_plan(impressions, experiment, control)

    clients, mixed = _exposed_clients(impressions, variants)
    if mixed:
        warnings.append(f"{mixed} clients saw several variants and were left out")
    conversions = frame.loc[
        frame["event_type"].isin(CONVERSION_EVENTS) & frame["client_id"].isin(clients.index)
    ]
    conversions = conversions.loc[
        conversions["timestamp"] >= conversions["client_id"].map(clients["first_seen"])
    ]
    impressions = impressions.loc[impressions["client_id"].isin(clients.index)]
    clicks = _attributed_clicks(frame, impressions, clients, name)
    last = max(impressions["timestamp"].max(), conversions["timestamp"].max())
    if pd.isna(last):
        last = impressions["timestamp"].max()
    looks = _daily_looks(clients, conversions, variants, last)

    srm = sample_ratio_mismatch([int(c) for c in looks[-1]["n"]], weights, srm_threshold)
    if srm.flagged:
        warnings.append(
            f"sample ratio mismatch (chi-square p = {srm.p_value:.2g}): assignment or logging "
            "is broken, do not trust the uplifts"
        )
    # retention's window: to the experiment's end, else to the last event of the log
    window_end = (
        pd.Timestamp(experiment.end)
        if not isinstance(experiment, str) and experiment.end is not None
        else frame["timestamp"].max()
    )
    retention = _retention(clients, history, events, window_end, variants, items)
    return ExperimentReport(
        experiment=name,
        control=variants[0],
        alpha=alpha,
        first_exposure=clients["first_seen"].min().to_pydatetime(warn=False),
        last_event=last.to_pydatetime(warn=False),
        looks=len(looks),
        mixed_clients=mixed,
        variants=_summaries(looks[-1], impressions, clicks, variants, retention),
        uplifts=_uplifts(looks, variants, alpha, relative_tau),
        srm=SrmSummary(
            observed=dict(zip(variants, srm.observed, strict=True)),
            expected=dict(zip(variants, srm.expected, strict=True)),
            statistic=srm.statistic,
            p_value=srm.p_value,
            flagged=srm.flagged,
            weights_assumed_equal=isinstance(experiment, str),
        ),
        warnings=warnings,
    )


def _retention(
    clients: pd.DataFrame,
    history: pd.DataFrame | None,
    events: pd.DataFrame,
    window_end: pd.Timestamp,
    variants: list[str],
    items: pd.DataFrame | None,
) -> pd.DataFrame | None:
    """Retention per variant, or ``None`` when there is no history naming offers."""
    source = history if history is not None else events
    if "item_id" not in source.columns:
        return None
    return variant_retention(clients, source, window_end, variants, tariff_ids(items))
