"""Batch reasons say "often used together" exactly when co-ownership backs it, for every model."""

from functools import cache

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.explain import MIN_LIFT, MIN_SUPPORT, Explainer, Reason
from recommender.models.registry import build_model
from recommender.phrases import Speaker
from recommender.servable import ServableModel

MODELS = ("ease", "als", "popularity")
ENGLISH = Speaker("en", "client")


def said(
    explainer: Explainer, facts: list[list[tuple[Reason, ...]]]
) -> list[list[tuple[str, ...]]]:
    """``facts`` in English, offers named by their ids."""
    names = [str(i) for i in explainer.model.item_ids]
    return explainer.say(facts, names.__getitem__, ENGLISH)


def co_owned_dataset() -> Dataset:
    """``b`` is backed by ``a`` (strongest) and ``d``; ``c`` has too few co-owners, ``hub`` no lift.

    20 clients all own ``hub``; 6 own ``a`` and ``b``, 4 own ``c`` and ``b``, 10 own ``x``
    (5 of which also viewed and clicked ``b``, which must not count); the 10 owners of ``b``
    and 2 owners of ``x`` own ``d``. So half the clients own ``b``, as do: every owner of ``a``
    (6 co-owners, lift 2), every owner of ``c`` but only 4, 10 of the 12 owners of ``d``
    (lift 1.67) and half of ``hub``'s owners (lift 1).
    """
    assert MIN_SUPPORT == 5 and 1.0 < MIN_LIFT <= 1.6  # the numbers above sit around these
    rows: list[tuple[str, str, str]] = []
    for n in range(20):
        client = f"k{n:02d}"
        rows.append((client, "hub", "purchase"))
        owned = ("a", "b") if n < 6 else ("c", "b") if n < 10 else ("x",)
        rows += [(client, item, "purchase") for item in owned]
        if n < 12:
            rows.append((client, "d", "subscription_start"))
        if 10 <= n < 15:
            rows += [(client, "b", "view"), (client, "b", "click")]
    events = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type"])
    events["timestamp"] = pd.date_range("2024-01-01", periods=len(events), freq="h", tz="UTC")
    clients = pd.DataFrame({"client_id": [f"k{n:02d}" for n in range(20)], "segment": "B2B"})
    return Dataset.from_frames(events, clients)


@cache
def fitted(name: str) -> ServableModel:
    params = {"factors": 4, "iterations": 3, "seed": 1} if name == "als" else {}
    return build_model(name, params).fit(co_owned_dataset()).export()


def together_reasons(model: ServableModel, owned: list[str], offer: str) -> list[str]:
    names = [str(i) for i in model.item_ids]
    index = {name: i for i, name in enumerate(names)}
    dense = np.zeros((1, model.n_items), dtype=bool)
    dense[0, [index[o] for o in owned]] = True
    explainer = Explainer(model)
    rows = explainer.popularity_row_indices([("all",)])
    reasons = said(explainer, explainer.explain(np.array([[index[offer]]]), dense, rows))[0][0]
    return [r for r in reasons if r.startswith("often used together")]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    ("owned", "expected"),
    [
        (["hub", "a"], ["often used together with a, which you have"]),
        (["hub", "d", "c", "a"], ["often used together with a, which you have"]),  # strongest
        (["hub", "d"], ["often used together with d, which you have"]),
        (["hub", "c"], []),  # 4 co-owners: below MIN_SUPPORT
        (["hub"], []),  # everyone owns hub: no lift
        (["x"], []),  # some owners of x viewed b: views are not use
    ],
)
def test_together_exactly_when_co_ownership_backs_it(
    name: str, owned: list[str], expected: list[str]
) -> None:
    assert together_reasons(fitted(name), owned, "b") == expected


@pytest.mark.parametrize("name", MODELS)
def test_used_by_counts_owners_only(name: str) -> None:
    model = fitted(name)
    names = [str(i) for i in model.item_ids]
    explainer = Explainer(model)
    rows = explainer.popularity_row_indices([("all",)])
    items = np.array([[names.index("b"), names.index("c")]])
    facts = explainer.explain(items, np.zeros((1, model.n_items), dtype=bool), rows)
    reasons = said(explainer, facts)[0]
    # 10 of 20 own b (5 more only viewed it), 4 own c
    assert reasons == [("used by 50 % of clients",), ("used by 20 % of clients",)]


def test_a_bundle_without_reason_tables_gives_no_such_reasons() -> None:
    model = fitted("ease")
    old = ServableModel(**{**model.__dict__, "usage": None, "co_usage": None})
    names = [str(i) for i in old.item_ids]
    explainer = Explainer(old)
    dense = np.zeros((1, old.n_items), dtype=bool)
    dense[0, names.index("a")] = True
    items = np.array([[names.index("b")]])
    assert explainer.explain(items, dense, explainer.popularity_row_indices([("all",)])) == [[()]]


def test_one_client_gets_the_batch_facts() -> None:
    model = fitted("ease")
    names = [str(i) for i in model.item_ids]
    explainer = Explainer(model)
    owned = np.array(sorted(names.index(o) for o in ("hub", "a")))
    items = [names.index("b"), names.index("c")]
    dense = np.zeros((1, model.n_items), dtype=bool)
    dense[0, owned] = True
    rows = ("segment=B2B", "all")
    batch = explainer.explain(np.array([items]), dense, explainer.popularity_row_indices([rows]))
    one = explainer.explain_one(items, owned, rows)
    assert one == batch[0]
    assert Reason("together", names.index("a")) in one[0]
