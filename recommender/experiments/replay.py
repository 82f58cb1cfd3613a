"""Offline replay: a candidate policy's click rate from impressions logged by the current one.

Each logged row is one shown item: ``client_id, item_id, position, propensity, clicked``, where
``propensity`` is the probability the logging policy had of showing that item in that slot.
The candidate gives, per client, the probability of showing each item in a slot (a
deterministic top-k list puts ``1/k`` on each of its items). With weights
``w = candidate probability / propensity``:

- IPS   = mean(w * clicked): unbiased when the logging policy could show every item the
  candidate shows (propensity > 0 there), but high-variance;
- SNIPS = sum(w * clicked) / sum(w): self-normalized, slightly biased, far steadier.

The estimand is the candidate's click-through per shown item. Intervals are percentile
bootstraps that resample clients (rows of one client are not independent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

LOG_COLUMNS: tuple[str, ...] = ("client_id", "item_id", "position", "propensity", "clicked")
CANDIDATE_COLUMNS: tuple[str, ...] = ("client_id", "item_id", "probability")
_BOOTSTRAP_CELLS = 4_000_000  # resampling counts held in memory at once


@dataclass(frozen=True)
class ReplayEstimate:
    """IPS and SNIPS click-rate estimates with bootstrap intervals."""

    ips: float
    ips_low: float
    ips_high: float
    snips: float
    snips_low: float
    snips_high: float
    impressions: int
    clients: int
    matched: int
    effective_sample_size: float


def candidate_from_top_k(lists: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Slot probabilities of a deterministic top-k policy: ``1/k`` on each listed item."""
    rows = []
    for client, items in lists.items():
        unique = list(dict.fromkeys(items))
        rows += [(client, item, 1.0 / len(unique)) for item in unique]
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


def _check(logs: pd.DataFrame) -> None:
    missing = [c for c in LOG_COLUMNS if c not in logs.columns]
    if missing:
        raise ValueError(f"impression log lacks column(s) {', '.join(missing)}")
    propensity = pd.to_numeric(logs["propensity"], errors="coerce")
    bad = ~((propensity > 0) & (propensity <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"impression log row {row}, column 'propensity': {logs['propensity'].iloc[row]!r} "
            "is not in (0, 1]"
        )
    if not logs["clicked"].isin([0, 1, True, False]).all():
        raise ValueError("impression log column 'clicked' must hold 0/1")


def _bootstrap(
    per_client: np.ndarray, n_bootstrap: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """IPS and SNIPS of ``n_bootstrap`` client resamples (columns: rows, w*click, w)."""
    rng = np.random.default_rng(seed)
    n_clients = per_client.shape[0]
    uniform = np.full(n_clients, 1.0 / n_clients)
    batch = max(1, _BOOTSTRAP_CELLS // n_clients)
    totals = []
    for start in range(0, n_bootstrap, batch):
        counts = rng.multinomial(n_clients, uniform, size=min(batch, n_bootstrap - start))
        totals.append(counts @ per_client)
    summed = np.concatenate(totals)
    return summed[:, 1] / summed[:, 0], summed[:, 1] / summed[:, 2]


def replay(
    logs: pd.DataFrame,
    candidate: pd.DataFrame | Mapping[str, Sequence[str]],
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> ReplayEstimate:
    """Estimate the candidate's click rate from ``logs`` (``LOG_COLUMNS``).

    ``candidate`` is a frame with ``CANDIDATE_COLUMNS`` or a mapping client -> top-k list;
    items it does not list for a client have probability zero.
    """
    _check(logs)
    table = candidate if isinstance(candidate, pd.DataFrame) else candidate_from_top_k(candidate)
    probability = (
        table.loc[:, list(CANDIDATE_COLUMNS)].groupby(["client_id", "item_id"])["probability"].sum()
    )
    keys = pd.MultiIndex.from_arrays([logs["client_id"], logs["item_id"]])
    target = probability.reindex(keys, fill_value=0.0).to_numpy(dtype=np.float64)
    weight = target / logs["propensity"].to_numpy(dtype=np.float64)
    reward = weight * logs["clicked"].to_numpy(dtype=np.float64)
    per_client = (
        pd.DataFrame({"client": logs["client_id"].to_numpy(), "n": 1.0, "wr": reward, "w": weight})
        .groupby("client", sort=False)
        .sum()
        .to_numpy()
    )
    total = per_client.sum(axis=0)
    ips_boot, snips_boot = _bootstrap(per_client, n_bootstrap, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        snips = total[1] / total[2]
        ess = weight.sum() ** 2 / (weight**2).sum()
    tails = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    ips_low, ips_high = np.nanpercentile(ips_boot, tails)
    snips_low, snips_high = (
        np.nanpercentile(snips_boot, tails) if np.isfinite(snips) else (np.nan, np.nan)
    )
    return ReplayEstimate(
        ips=float(total[1] / total[0]),
        ips_low=float(ips_low),
        ips_high=float(ips_high),
        snips=float(snips),
        snips_low=float(snips_low),
        snips_high=float(snips_high),
        impressions=len(logs),
        clients=int(per_client.shape[0]),
        matched=int((weight > 0).sum()),
        effective_sample_size=float(ess),
    )
