import pandas as pd
import pytest

from recommender.synthetic import SyntheticConfig, generate, iter_chunks, write_tables

_CONFIG = SyntheticConfig(n_clients=90, seed=8, chunk_size=40)


def test_csv_round_trip_joins_lists_with_semicolons(tmp_path):
    data = generate(_CONFIG)
    paths = data.write(tmp_path, "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clients.csv", "interactions.csv", "items.csv",
    ]  # fmt: skip
    items = pd.read_csv(paths["items"], keep_default_na=False)
    first = data.items.iloc[0]
    assert items.loc[0, "tags"] == ";".join(first["tags"])
    dependent = data.items["prerequisites"].map(len) > 0
    assert items.loc[dependent, "prerequisites"].str.len().gt(0).all()
    events = pd.read_csv(paths["interactions"])
    assert len(events) == len(data.interactions)
    parsed = pd.to_datetime(events["timestamp"], format="ISO8601", utc=True)
    assert parsed.dt.as_unit("us").equals(data.interactions["timestamp"].dt.as_unit("us"))


def test_streamed_chunks_equal_the_in_memory_frames(tmp_path):
    counts = write_tables(iter_chunks(_CONFIG), tmp_path, "parquet")
    data = generate(_CONFIG)
    assert counts == {
        "items": len(data.items),
        "clients": 90,
        "interactions": len(data.interactions),
    }
    clients = pd.read_parquet(tmp_path / "clients.parquet")
    assert clients["client_id"].tolist() == data.clients["client_id"].tolist()
    events = pd.read_parquet(tmp_path / "interactions.parquet")
    assert str(events["timestamp"].dt.tz) == "UTC"
    assert events["timestamp"].equals(data.interactions["timestamp"])
    assert events["event_id"].tolist() == data.interactions["event_id"].tolist()
    items = pd.read_parquet(tmp_path / "items.parquet")
    assert list(items.loc[0, "tags"]) == data.items.loc[0, "tags"]


def test_a_failure_midway_leaves_no_files(tmp_path):
    def failing():
        chunks = iter_chunks(_CONFIG)
        yield next(chunks)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_tables(failing(), tmp_path, "csv")
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'xlsx'"):
        write_tables(iter_chunks(_CONFIG), tmp_path, "xlsx")  # type: ignore[arg-type]
