"""The portfolio split by client: every client once, and what it owns as a whole replay says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from feature_store.offline import OfflineStore
from feature_store.portfolio_chunks import NoClientsError, split_portfolio
from recommender.feedback import owned_pairs
from tests.feature_store.portfolio_store import portfolio_store


def _in_memory(store: OfflineStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the export read before it streamed: whole tables, one replay."""
    events = pd.concat([store.read_table("interactions"), store.read_events()], ignore_index=True)
    return store.read_table("clients"), owned_pairs(events)


def _pairs(owned: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(owned["client_id"].astype(str), owned["item_id"].astype(str), strict=True))


def test_chunks_hold_every_client_once_with_what_it_owns(tmp_path: Path) -> None:
    portfolio_store(tmp_path / "data", 1_200)
    store = OfflineStore(tmp_path / "data")
    clients, owned = _in_memory(store)
    chunks = split_portfolio(store, tmp_path / "work", chunk_clients=250)
    assert chunks.n_clients == len(clients) and len(chunks) == 5
    parts = list(chunks)
    got_clients = pd.concat([c for c, _ in parts], ignore_index=True)
    assert sorted(got_clients["client_id"]) == sorted(clients["client_id"])
    for chunk, chunk_owned in parts:  # a client's pairs come with its chunk
        assert set(chunk_owned["client_id"]) <= set(chunk["client_id"]) | {"nobody-knows"}
    known = owned[owned["client_id"].isin(set(clients["client_id"]))]
    got = pd.concat([o for _, o in parts], ignore_index=True)
    got = got[got["client_id"].isin(set(clients["client_id"]))]
    assert _pairs(got) == _pairs(known) and len(got) == len(known)
    # the frames are those read_table gives (same dtypes, values, column order)
    back = got_clients.set_index("client_id").loc[clients["client_id"]].reset_index()
    pd.testing.assert_frame_equal(back, clients)


def test_one_managers_chunks(tmp_path: Path) -> None:
    data = portfolio_store(tmp_path / "data", 600)
    store = OfflineStore(tmp_path / "data")
    manager = str(data.clients["manager_id"].value_counts().idxmax())
    mine = set(data.clients.loc[data.clients["manager_id"] == manager, "client_id"])
    chunks = split_portfolio(store, tmp_path / "work", manager=manager, chunk_clients=3)
    parts = list(chunks)
    assert chunks.n_clients == len(mine)
    assert set(pd.concat([c for c, _ in parts])["client_id"]) == mine
    _, owned = _in_memory(store)
    got = pd.concat([o for _, o in parts], ignore_index=True)
    assert _pairs(got) == _pairs(owned[owned["client_id"].isin(mine)])
    with pytest.raises(NoClientsError, match="'nobody' has no clients"):
        split_portfolio(store, tmp_path / "work2", manager="nobody")
