"""Churn risk where managers act on it: one client's risk, a portfolio's risk columns, the
retention reason, and ordering a portfolio by revenue at risk.

* ``client_risk`` - one client's probability, band and drivers from a ``ScoreTable``;
* ``risk_columns`` / ``add_risk_columns`` - ``churn_probability``, ``churn_band`` and
  ``revenue_at_risk`` (yearly spend x churn probability) for a next-best-offer table;
  ``with_risk_columns`` / ``block_risk_columns`` - the same through the clients frame, for
  exports laid out chunk by chunk (``recsys nbo export``);
* ``order_portfolio`` - the table by opportunity (as ranked) or by revenue at risk;
* ``retention_reason`` - why an offer is shown as a retention offer: the client's band and
  drivers, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from recommender.churn.bands import RiskBand, RiskBands
from recommender.churn.drivers import Driver, say_driver
from recommender.churn.scoring import ScoreTable
from recommender.phrases import DEFAULT_LANGUAGE, Language
from recommender.ranking.boosts import CHURN_ATTRIBUTE
from recommender.ranking.clients import ClientBlock

PortfolioOrder = Literal["opportunity", "risk"]
PORTFOLIO_ORDERS: tuple[PortfolioOrder, ...] = get_args(PortfolioOrder)
RISK_COLUMNS: tuple[str, ...] = ("churn_probability", "churn_band", "revenue_at_risk")

_BAND_WORDS: dict[Language, dict[str, str]] = {
    "ru": {"low": "низкий", "medium": "средний", "high": "высокий"},
    "en": {"low": "low", "medium": "medium", "high": "high"},
}
_RETENTION: dict[Language, str] = {
    "ru": "удержание: {band} риск ухода клиента ({drivers})",
    "en": "retention: {band} risk that the client leaves ({drivers})",
}
_RETENTION_BARE: dict[Language, str] = {
    "ru": "удержание: {band} риск ухода клиента",
    "en": "retention: {band} risk that the client leaves",
}


@dataclass(frozen=True)
class ClientRisk:
    """One client's churn risk as the churn model scored it."""

    client_id: str
    #: Holds a tariff at the scoring day (a client without one has nothing to cancel).
    at_risk: bool
    probability: float | None
    band: RiskBand | None
    drivers: tuple[Driver, ...]

    def said(self, language: Language = DEFAULT_LANGUAGE) -> list[str]:
        """The drivers in words."""
        return [say_driver(d, language) for d in self.drivers]


def client_risk(scores: ScoreTable, bands: RiskBands, client_id: str) -> ClientRisk | None:
    """The risk of ``client_id``; ``None`` when the score table does not hold the client."""
    found = scores.facts(client_id)
    if found is None:
        return None
    probability, facts = found
    if probability is None:
        return ClientRisk(client_id, False, None, None, ())
    return ClientRisk(client_id, True, probability, bands.band(probability), tuple(facts))


def band_word(band: str, language: Language = DEFAULT_LANGUAGE) -> str:
    """A band as a word of ``language`` ("high" -> "высокий")."""
    return _BAND_WORDS[language].get(band, band)


def retention_reason(risk: ClientRisk, language: Language = DEFAULT_LANGUAGE) -> str:
    """Why an offer is a retention offer for this client: its band and drivers."""
    band = band_word(risk.band or "", language)
    if not risk.drivers:
        return _RETENTION_BARE[language].format(band=band)
    return _RETENTION[language].format(band=band, drivers="; ".join(risk.said(language)))


def risk_columns(
    client_ids: Sequence[str], spend: np.ndarray, scores: ScoreTable | None, bands: RiskBands
) -> pd.DataFrame:
    """``churn_probability`` (NaN: not scored or holds no tariff), ``churn_band`` ("" then)
    and ``revenue_at_risk`` (yearly spend x probability, 0 then), one row per client."""
    ids = [str(c) for c in client_ids]
    probability = np.full(len(ids), np.nan) if scores is None else scores.probabilities(ids)
    at_risk = np.nan_to_num(probability, nan=0.0) * np.asarray(spend, dtype=np.float64)
    return pd.DataFrame(
        {
            "churn_probability": probability.round(4),
            "churn_band": bands.bands(probability),
            "revenue_at_risk": at_risk.round(2),
        }
    )


def add_risk_columns(
    frame: pd.DataFrame, scores: ScoreTable | None, bands: RiskBands
) -> pd.DataFrame:
    """A next-best-offer table (``client_id``, ``spend``) with the risk columns after
    ``expected_value`` (or at the end)."""
    risk = risk_columns(frame["client_id"].tolist(), frame["spend"].to_numpy(), scores, bands)
    out = frame.drop(columns=[c for c in RISK_COLUMNS if c in frame.columns])
    names = list(out.columns)
    at = names.index("expected_value") + 1 if "expected_value" in names else len(names)
    for offset, column in enumerate(RISK_COLUMNS):
        out.insert(at + offset, column, risk[column].to_numpy())
    return out


def order_portfolio(frame: pd.DataFrame, order: PortfolioOrder) -> pd.DataFrame:
    """The table by ``opportunity`` (expected value, high first) or by ``risk`` (revenue at
    risk, high first; then probability, opportunity); the client id breaks ties, and
    ``position`` is renumbered 1..n."""
    if order not in PORTFOLIO_ORDERS:
        raise ValueError(f"order {order!r}: choose one of {', '.join(PORTFOLIO_ORDERS)}")
    if order == "risk":
        keys = ["revenue_at_risk", "churn_probability", "expected_value", "client_id"]
        ascending = [False, False, False, True]
    else:
        keys, ascending = ["expected_value", "client_id"], [False, True]
    out = frame.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    out = out.reset_index(drop=True)
    if "position" in out:
        out["position"] = np.arange(1, len(out) + 1)
    return out


def filter_bands(frame: pd.DataFrame, bands: Sequence[str]) -> pd.DataFrame:
    """Only the clients of the given risk bands (none given: all)."""
    if not bands:
        return frame
    return frame[frame["churn_band"].isin(list(bands))].reset_index(drop=True)


def block_risk_columns(
    block: ClientBlock, order: np.ndarray, spend: np.ndarray
) -> dict[str, np.ndarray]:
    """The risk columns of an export laid out from ``block`` (rows in ``order``; ``spend`` in
    block order), when the caller put the churn probability (``churn_probability``) and
    optionally the band (``churn_band``) into the block's attributes; none otherwise."""
    values = block.attributes.get(CHURN_ATTRIBUTE)
    if values is None:
        return {}
    probability = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    given = block.attributes.get("churn_band")
    bands = (
        np.asarray(["" if b is None else str(b) for b in given], dtype=object)
        if given is not None
        else RiskBands().bands(probability)
    )
    at_stake = np.nan_to_num(probability, nan=0.0) * np.asarray(spend, dtype=np.float64)
    return {
        "churn_probability": probability[order].round(4),
        "churn_band": bands[order],
        "revenue_at_risk": at_stake[order].round(2),
    }


def with_risk_columns(clients: pd.DataFrame, scores: ScoreTable, bands: RiskBands) -> pd.DataFrame:
    """A clients frame with ``churn_probability`` and ``churn_band`` (what the retention boost
    reads and ``block_risk_columns`` writes out)."""
    probability = scores.probabilities(clients["client_id"].astype(str).tolist())
    return clients.assign(**{CHURN_ATTRIBUTE: probability, "churn_band": bands.bands(probability)})
