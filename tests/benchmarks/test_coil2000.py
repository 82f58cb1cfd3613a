"""COIL 2000 (real insurance portfolios) through the product's path, as regression tests.

The converter follows the data set's README protocol; the models are trained in-process on the
imported tables (the benchmark script runs the CLI end to end). Skipped when the data is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.coil2000 import (
    DEFAULT_PATH,
    PRODUCTS,
    client_folds,
    hidden_ranks,
    load_coil,
    scores,
    write_tables,
)
from feature_store.offline import OfflineStore
from recommender.dataset import Dataset
from recommender.evaluation.split_choice import auto_split
from recommender.models.registry import build_model
from recommender.ranking import ClientBlock, RankingPolicy
from training.cli.data_import import import_files

PATH = Path(DEFAULT_PATH)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PATH / "ticdata2000.txt").is_file(), reason=f"COIL 2000 not at {PATH}"),
]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, pd.DataFrame]:
    out = tmp_path_factory.mktemp("coil")
    hidden = write_tables(load_coil(PATH), out)
    frames = [pd.read_csv(out / f"{t}.csv", dtype=str) for t in ("interactions", "clients")]
    items = pd.read_csv(out / "items.csv")
    return Dataset.from_frames(frames[0], frames[1], items), hidden


def test_the_converter_follows_the_readme(tables: tuple[Dataset, pd.DataFrame]) -> None:
    dataset, hidden = tables
    assert dataset.n_clients == 9822
    assert dataset.n_items == len(PRODUCTS) == 22
    assert len(hidden) == 4825  # clients owning two or more products
    assert "mkoopkla" in dataset.clients and "industry" in dataset.clients
    # columns 44-86 describe the products (they would reveal the hidden one): never exported
    product_columns = {p.lower() for p in PRODUCTS} | {f"p{i}" for i in range(44, 65)}
    assert not product_columns & {str(c).lower() for c in dataset.clients.columns}


def test_a_fold_hides_only_its_own_clients_products(
    tables: tuple[Dataset, pd.DataFrame], tmp_path: Path
) -> None:
    _, every = tables
    frame = load_coil(PATH)
    fold = client_folds(len(frame), 5)
    assert np.bincount(fold).tolist() == [1965, 1965, 1964, 1964, 1964]
    hidden = write_tables(frame, tmp_path, test=fold == 2)
    # the same product hidden as in the every-client protocol, for the fold's clients only
    mine = every[every["client_id"].str[1:].astype(int).map(lambda n: fold[n] == 2)]
    assert hidden.reset_index(drop=True).equals(mine.reset_index(drop=True))
    imported = pd.read_csv(tmp_path / "interactions.csv", dtype=str)
    owned = int((frame[list(PRODUCTS)].to_numpy() > 0).sum())
    assert len(imported) == owned - len(hidden)  # everyone else keeps the whole portfolio
    pairs = set(zip(imported["client_id"], imported["item_id"], strict=True))
    assert not pairs & set(zip(hidden["client_id"], hidden["item_id"], strict=True))


def test_singles_hide_their_only_product_and_leave_the_others_draws_alone(
    tables: tuple[Dataset, pd.DataFrame], tmp_path: Path
) -> None:
    _, every = tables
    hidden = write_tables(load_coil(PATH), tmp_path, singles=True)
    assert int(hidden["cold"].sum()) == 3976  # clients owning exactly one product
    assert (
        hidden[~hidden["cold"]]
        .drop(columns="cold")
        .reset_index(drop=True)
        .equals(every.drop(columns="cold").reset_index(drop=True))
    )
    imported = pd.read_csv(tmp_path / "interactions.csv", dtype=str)
    assert not set(imported["client_id"]) & set(hidden.loc[hidden["cold"], "client_id"])
    clients = pd.read_csv(tmp_path / "clients.csv", dtype=str)
    assert len(clients) == 9822  # the cold clients are imported, with their attributes


def test_the_one_table_shape_imports_as_the_three_files(tmp_path: Path) -> None:
    """COIL's own shape (each client's attributes and products in one row, keyed by ``ID``)
    through ``recsys data import --items --interactions``: the same clients and portfolios."""
    write_tables(load_coil(PATH), tmp_path)
    stored = {}
    for shape, files in {
        "three": ("clients", "items", "interactions"),
        "one": ("items", "portfolio"),
    }.items():
        given = {("interactions" if f == "portfolio" else f): tmp_path / f"{f}.csv" for f in files}
        import_files(given, data_dir=tmp_path / shape)
        stored[shape] = OfflineStore(tmp_path / shape)
    clients = [s.read_table("clients") for s in stored.values()]
    assert len(clients[1]) == 9822
    assert clients[0].equals(clients[1])
    pairs = [
        s.read_table("interactions")[["client_id", "item_id"]].sort_values(["client_id", "item_id"])
        for s in stored.values()
    ]
    assert pairs[0].reset_index(drop=True).equals(pairs[1].reset_index(drop=True))


def test_defaults_choose_the_snapshot_split(tables: tuple[Dataset, pd.DataFrame]) -> None:
    _, _, choice = auto_split(tables[0])
    assert choice.name == "snapshot"


@pytest.mark.parametrize("model", ["ease", "als", "bpr", "lightfm", "lightfm_bpr"])
def test_every_personalised_default_at_least_matches_popularity(
    model: str, tables: tuple[Dataset, pd.DataFrame]
) -> None:
    dataset, hidden = tables

    def hr1(name: str) -> float:
        ranking = build_model(name).fit(dataset).ranking_model()
        rows = dataset.client_ids.to_internal_many(hidden["client_id"].to_numpy())
        ranked = RankingPolicy(22).rank(ranking, ClientBlock.from_dataset(dataset, rows))
        lists = pd.DataFrame(
            {"client_id": hidden["client_id"]}
            | {
                f"offer_{j + 1}": np.asarray([*ranking.item_ids, ""])[ranked.items[:, j]]
                for j in range(22)
            }
        )
        return scores(hidden_ranks(lists, hidden, 22))["hr@1"]

    popularity = hr1("popularity")
    assert popularity == pytest.approx(0.548, abs=0.01)  # the README's reference figure
    assert hr1(model) >= popularity
