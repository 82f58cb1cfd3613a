"""The streamed export (chunks ranked, sorted to disk, merged) writes what the in-memory one did.

The reference is the export as it was before it streamed: the whole clients table, one replay
of all events into owned pairs, one ``compute_nbo`` over the portfolio, ``nbo_frame`` and
``write_table``. The streamed one runs in chunks of 600 clients and merges through a small
buffer, so runs, merge steps and ties all cross boundaries.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from feature_store.offline import OfflineStore
from feature_store.portfolio_chunks import split_portfolio
from recommender.dataset import Dataset
from recommender.feedback import owned_pairs
from recommender.models.registry import build_model
from recommender.nbo import compute_nbo
from recommender.nbo_stream import export_chunks
from recommender.nbo_table import nbo_frame, write_table
from recommender.phrases import Speaker
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from tests.feature_store.portfolio_store import portfolio_store

N_CLIENTS = 3_000
POLICY = RankingPolicy.from_settings()
SPEAKER = Speaker("en", "manager")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> OfflineStore:
    root = tmp_path_factory.mktemp("nbo-stream")
    portfolio_store(root, N_CLIENTS)
    return OfflineStore(root)


@cache
def _model(store_root: str, name: str) -> RankingModel:
    store = OfflineStore(store_root)
    dataset = Dataset.from_frames(
        store.read_table("interactions"), store.read_table("clients"), store.read_table("items")
    )
    params = {"factors": 8, "iterations": 4, "seed": 1} if name == "als" else {}
    return RankingModel(build_model(name, params).fit(dataset).export())


def _names(store: OfflineStore) -> dict[str, str]:
    items = store.read_table("items")
    return dict(zip(items["item_id"].astype(str), items["name"].astype(str), strict=True))


def _in_memory(store: OfflineStore, model: RankingModel, fmt: str) -> bytes:
    clients = store.read_table("clients")
    events = pd.concat([store.read_table("interactions"), store.read_events()], ignore_index=True)
    block = ClientBlock.from_frames(
        clients, owned_pairs(events), model.item_ids, model.client_index
    )
    names = _names(store)
    result = compute_nbo(model, block, POLICY, POLICY.rules(5), names=names, speaker=SPEAKER)
    stream = io.BytesIO()
    write_table(nbo_frame(result, model.servable, names), fmt, stream)  # type: ignore[arg-type]
    return stream.getvalue()


def _streamed(store: OfflineStore, model: RankingModel, fmt: str, work: Path) -> bytes:
    chunks = split_portfolio(store, work, chunk_clients=600)
    assert len(chunks) == 5
    stream = io.BytesIO()
    ranked: list[int] = []
    summary = export_chunks(
        chunks, len(chunks), model, POLICY, POLICY.rules(5), fmt,  # type: ignore[arg-type]
        stream, work / "runs", names=_names(store), speaker=SPEAKER,
        ranked=ranked.append, memory_rows=500,
    )  # fmt: skip
    assert summary.clients == sum(ranked) == N_CLIENTS
    return stream.getvalue()


def _read(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_excel(io.BytesIO(data), dtype={"client_id": str})


@pytest.mark.parametrize("name", ["ease", "als"])
def test_streamed_csv_is_the_in_memory_file(store: OfflineStore, tmp_path: Path, name: str) -> None:
    model = _model(str(store.root.parent), name)
    want = _in_memory(store, model, "csv")
    got = _streamed(store, model, "csv", tmp_path)
    assert got == want  # byte for byte: rows, order, positions, rounding, quoting
    frame = pd.read_csv(io.BytesIO(got), dtype={"client_id": str})
    assert frame["position"].tolist() == list(range(1, N_CLIENTS + 1))


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_streamed_file_reads_back_as_the_in_memory_one(
    store: OfflineStore, tmp_path: Path, fmt: str
) -> None:
    model = _model(str(store.root.parent), "ease")
    want = _read(_in_memory(store, model, fmt), fmt)
    got = _read(_streamed(store, model, fmt, tmp_path), fmt)
    pd.testing.assert_frame_equal(got, want)
    assert got["expected_value"].is_monotonic_decreasing
