"""The generated event sequence obeys the business rules and makes personalization pay."""

import numpy as np
import pandas as pd

from recommender.domain import INDUSTRIES, LOYALTY_TIERS, SIZE_BANDS
from recommender.synthetic import SyntheticConfig, generate, story
from recommender.synthetic.catalog import OFFERS

_BY_ID = {o.item_id: o for o in OFFERS}
_OWNING = ["purchase", "enrolment", "subscription_start"]


def _violations(events: pd.DataFrame) -> list[str]:
    """Replay each client's events in time order and list every broken rule."""
    problems: list[str] = []
    ordered = events.sort_values(["client_id", "timestamp"], kind="stable")
    for client, rows in ordered.groupby("client_id", sort=False):
        active: dict[str, str] = {}  # family -> active tariff
        completed: set[str] = set()
        enrolled: set[str] = set()
        for item, kind, ts in zip(
            rows["item_id"], rows["event_type"], rows["timestamp"], strict=True
        ):
            offer = _BY_ID[item]
            where = f"{client} {kind} {item} at {ts}"
            if kind == "subscription_start":
                if offer.family in active:
                    problems.append(f"{where}: family already has {active[offer.family]}")
                active[offer.family] = item
            elif kind in ("renewal", "cancellation", "usage"):
                if active.get(offer.family) != item:
                    problems.append(f"{where}: tariff not active")
                if kind == "cancellation":
                    del active[offer.family]
            elif kind == "enrolment":
                missing = [p for p in offer.prerequisites if p not in completed]
                if missing:
                    problems.append(f"{where}: prerequisite course(s) {missing} not completed")
                enrolled.add(item)
            elif kind == "completion":
                if item not in enrolled:
                    problems.append(f"{where}: completion without enrolment")
                completed.add(item)
            elif kind == "purchase":
                missing = [p for p in offer.prerequisites if active.get(_BY_ID[p].family) != p]
                if missing:
                    problems.append(f"{where}: prerequisite tariff(s) {missing} not active")
    return problems


def test_prerequisites_and_one_tariff_per_family_are_never_violated(data):
    assert _violations(data.interactions) == []


def test_the_checker_catches_broken_sequences(data):
    events = data.interactions
    first_start = events[events["event_type"] == "subscription_start"].iloc[0]
    duplicate = first_start.copy()
    duplicate["timestamp"] = first_start["timestamp"] + pd.Timedelta(days=1)
    requires = events["item_id"].map(lambda i: bool(_BY_ID[i].prerequisites))
    dependent = events[(events["event_type"] == "enrolment") & requires]
    early = dependent.iloc[0].copy()
    early["timestamp"] = pd.Timestamp("2023-07-01", tz="UTC")
    broken = pd.concat([events, duplicate.to_frame().T, early.to_frame().T], ignore_index=True)
    problems = _violations(broken)
    assert any("family already has" in p for p in problems)
    assert any("not completed" in p for p in problems)


def test_segments_only_buy_eligible_offers(data):
    events = data.interactions.merge(data.clients[["client_id", "segment"]], on="client_id")
    eligibility = events["item_id"].map(lambda i: _BY_ID[i].eligibility)
    assert ((eligibility == "both") | (eligibility == events["segment"])).all()


def test_renewals_and_cancellations_happen(data):
    counts = data.interactions["event_type"].value_counts()
    assert counts["renewal"] > counts["cancellation"] > 0
    assert counts["completion"] < counts["enrolment"]


def test_industries_differ_in_what_they_buy():
    data = generate(SyntheticConfig(n_clients=1500, seed=4))
    owning = data.interactions[data.interactions["event_type"].isin(_OWNING)]
    merged = owning.merge(data.clients[["client_id", "industry"]], on="client_id")
    top = {
        industry: set(group["item_id"].value_counts().index[:5])
        for industry, group in merged.groupby("industry")
    }
    assert top["government"] != top["it"]
    assert len(top["finance"] & top["education"]) <= 2


def _ndcg5(scores: np.ndarray, owned: np.ndarray, relevant: list[set[int]]) -> float:
    ranked = np.argsort(-np.where(owned > 0, -np.inf, scores), axis=1, kind="stable")[:, :5]
    discount = 1.0 / np.log2(np.arange(2, 7))
    gains = [
        sum(discount[i] for i, item in enumerate(row) if item in rel)
        / discount[: min(len(rel), 5)].sum()
        for row, rel in zip(ranked, relevant, strict=True)
    ]
    return float(np.mean(gains))


def test_personalized_model_beats_uniform_offer(data):
    """EASE on the first 80 % of time beats global and industry popularity on the rest."""
    events = data.interactions
    items = {item: i for i, item in enumerate(data.items["item_id"])}
    clients = {c: i for i, c in enumerate(data.clients["client_id"])}
    ts = events["timestamp"]
    split = ts.min() + 0.8 * (ts.max() - ts.min())
    train = events[ts < split]
    test = events[(ts >= split) & events["event_type"].isin(_OWNING)]
    matrix = np.zeros((len(clients), len(items)))
    matrix[train["client_id"].map(clients), train["item_id"].map(items)] = 1.0
    users, relevant = [], []
    for client, group in test.groupby("client_id"):
        row = clients[client]
        rel = {items[i] for i in group["item_id"]} - set(np.flatnonzero(matrix[row]))
        if rel and matrix[row].any():
            users.append(row)
            relevant.append(rel)
    gram = matrix.T @ matrix + 300.0 * np.eye(len(items))
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    owned = matrix[users]
    ease = _ndcg5(owned @ weights, owned, relevant)
    popularity = _ndcg5(np.tile(matrix.sum(axis=0), (len(users), 1)), owned, relevant)
    industry = data.clients["industry"].to_numpy()
    by_industry = {g: matrix[industry == g].sum(axis=0) for g in set(industry)}
    industry_pop = _ndcg5(np.stack([by_industry[industry[u]] for u in users]), owned, relevant)
    assert ease >= 1.5 * popularity
    assert ease > industry_pop


def test_story_tables_match_the_domain_vocabulary() -> None:
    """The story's per-industry, per-size and per-tier tables cover the domain's values."""
    assert tuple(story.INDUSTRY_WEIGHTS) == INDUSTRIES
    assert set(story.B2G_SHARE) == set(INDUSTRIES) == set(story.INDUSTRY_THEMES)
    assert len(story.SIZE_ACTIVITY) == len(story.SIZE_SEATS) == len(SIZE_BANDS)
    assert len(story.CANCEL_PER_PERIOD) == len(story.CHURN_LOYALTY) == len(LOYALTY_TIERS)
    assert len(story.CHURN_SIZE) == len(SIZE_BANDS)
    assert len(story.CHURN_INDUSTRY) == len(INDUSTRIES)
