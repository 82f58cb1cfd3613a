"""Churn risk: which clients are about to leave, how likely, and why.

The pieces, one idea each:

* ``events`` - the event log as time-sorted arrays (``EventLog``), cut at any date;
* ``holdings`` - what a client holds at a moment (active tariffs, add-ons, courses, spend);
* ``labels`` - what churn means (``ChurnDefinition``: all tariffs gone within the horizon,
  default 90 days) and who churned after a cut-off;
* ``features`` - each client's features as of a cut-off, from events before it only;
* ``rows`` - training / test rows over several cut-offs;
* ``model`` - LightGBM trees + isotonic calibration, stored as data (``ChurnModel``);
* ``baselines``, ``metrics``, ``backtest`` - the honest time backtest against the base rate and
  the best single-feature rule, with the shuffled-window control;
* ``scoring``, ``drivers`` - every client's risk as of a day, and the reasons behind it (said in
  Russian or English);
* ``bands``, ``retention`` - low / medium / high bands, revenue at risk, the risk columns of
  exports, portfolios ordered by risk, and the retention reason of retention offers (favoured by
  ``recommender.ranking.boosts.RetentionBoost``).

Serving loads the model and its scores in ``serving.churn_risk``.

Training and MLflow live in ``training.churn``; the synthetic data's churn story in
``recommender.synthetic.churn``.
"""

from recommender.churn.backtest import BacktestReport, BacktestSettings, fit_final, run_backtest
from recommender.churn.events import ChurnDataError, EventLog
from recommender.churn.labels import ChurnDefinition
from recommender.churn.model import ChurnModel, ChurnModelSettings
from recommender.churn.scoring import ScoreTable, score_clients

__all__ = [
    "BacktestReport",
    "BacktestSettings",
    "ChurnDataError",
    "ChurnDefinition",
    "ChurnModel",
    "ChurnModelSettings",
    "EventLog",
    "ScoreTable",
    "fit_final",
    "run_backtest",
    "score_clients",
]
