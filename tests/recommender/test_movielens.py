"""The MovieLens-100k loader: the real files when present, a tiny fake for format and errors."""

from pathlib import Path

import pytest

from recommender.dataset import Dataset
from recommender.movielens import (
    ML100K_CLIENT_FEATURES,
    ML100K_ITEM_FEATURES,
    default_ml100k_path,
    load_movielens_100k,
)
from recommender.schema import DataValidationError

GENRES = "unknown|0\nAction|1\nComedy|2\n\n"


def fake_ml100k(folder: Path, data: str | None = None) -> Path:
    """Three users, three movies, four ratings; u.item holds a Latin-1 title."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.genre").write_text(GENRES)
    (folder / "u.user").write_text(
        "1|24|M|technician|85711\n2|53|F|other|T8H1N\n3|15|M|student|0\n"
    )
    (folder / "u.item").write_bytes(
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
        "2|Amélie (2001)|01-Jan-2001||http://y|0|1|1\n"
        "3|unknown|||http://z|1|0|0\n".encode("latin-1")
    )
    (folder / "u.data").write_text(
        data or "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t891717742\n3\t3\t1\t0\n"
    )
    return folder


def test_fake_files_map_to_the_three_tables(tmp_path: Path) -> None:
    interactions, clients, items = load_movielens_100k(fake_ml100k(tmp_path / "ml"))
    assert interactions["client_id"].tolist() == ["1", "1", "2", "3"]
    assert interactions["value"].tolist() == [5.0, 3.0, 4.0, 1.0]
    assert set(interactions["event_type"]) == {"usage"}
    assert str(interactions["timestamp"].dt.tz) == "UTC"
    assert interactions["timestamp"].iloc[3].year == 1970
    assert clients["age_band"].tolist() == ["18-24", "50-55", "under_18"]
    assert clients["zip_region"].tolist() == ["8", "T", "0"]
    assert items["name"].tolist() == ["Toy Story (1995)", "Amélie (2001)", "unknown"]
    assert items["genres"].tolist() == [["Comedy"], ["Action", "Comedy"], ["unknown"]]
    assert items["year"].tolist()[:2] == [1995, 2001]
    assert items["year"].isna().tolist() == [False, False, True]


def test_missing_file_is_named(tmp_path: Path) -> None:
    folder = fake_ml100k(tmp_path / "ml")
    (folder / "u.user").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing file .*u\.user"):
        load_movielens_100k(folder)
    with pytest.raises(FileNotFoundError, match="folder not found"):
        load_movielens_100k(tmp_path / "absent")


def test_bad_line_names_file_line_and_column(tmp_path: Path) -> None:
    folder = fake_ml100k(tmp_path / "ml", data="1\t1\t5\t881250949\n1\t2\tfive\t881250950\n")
    with pytest.raises(DataValidationError, match=r"u\.data line 2, column 'rating': 'five'"):
        load_movielens_100k(folder)
    fake_ml100k(folder, data="1\t1\t5\n")
    with pytest.raises(DataValidationError, match="expected 4 '\\\\t'-separated fields"):
        load_movielens_100k(folder)


@pytest.mark.ml100k
def test_real_ml100k_loads_into_a_dataset() -> None:
    path = default_ml100k_path()
    if not (path / "u.data").is_file():
        pytest.skip(f"MovieLens-100k not found at {path} (set ML100K_PATH)")
    interactions, clients, items = load_movielens_100k(path)
    assert (len(interactions), len(clients), len(items)) == (100_000, 943, 1682)
    assert interactions["value"].between(1, 5).all()
    toy_story = items.set_index("item_id").loc["1"]
    assert toy_story["genres"] == ["Animation", "Children's", "Comedy"]
    assert toy_story["year"] == 1995
    dataset = Dataset.from_frames(
        interactions,
        clients,
        items,
        client_feature_columns=ML100K_CLIENT_FEATURES,
        item_feature_columns=ML100K_ITEM_FEATURES,
    )
    assert dataset.interactions.shape == (943, 1682)
    assert dataset.interactions.nnz == 100_000
    assert dataset.item_features.matrix.shape == (1682, 19)
    assert "gender=F" in dataset.client_features.names
