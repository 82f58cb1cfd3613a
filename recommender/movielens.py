"""Loader of the MovieLens-100k files (the public benchmark used to check model quality).

Maps the ml-100k format onto this project's tables: ratings become ``usage`` interactions
(value = rating), users become clients with demographic features, movies become items with
genre features. The files are read from a path the user gives; nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.schema import DataValidationError

ML100K_ENV = "ML100K_PATH"
#: The shared copy beside the checkout (``../shared`` of the repository root).
ML100K_DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
ML100K_FILES: tuple[str, ...] = ("u.data", "u.user", "u.item", "u.genre")
ML100K_CLIENT_FEATURES: tuple[str, ...] = ("age_band", "gender", "occupation")
ML100K_ITEM_FEATURES: tuple[str, ...] = ("genres",)

_AGE_EDGES = (0, 18, 25, 35, 45, 50, 56, 200)
_AGE_LABELS = ("under_18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")


def default_ml100k_path() -> Path:
    """``$ML100K_PATH``, else the shared copy beside the repository (never copied into it)."""
    return Path(os.environ.get(ML100K_ENV, str(ML100K_DEFAULT_PATH)))


def _read(path: Path, sep: str, names: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            quoting=3,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise DataValidationError([f"{path}: file is empty"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError([f"{path}: cannot be parsed: {exc}"]) from None
    if frame.shape[1] != len(names):
        raise DataValidationError(
            [
                f"{path}: expected {len(names)} {sep!r}-separated fields per line, "
                f"found {frame.shape[1]}"
            ]
        )
    frame.columns = names
    return frame


def _integers(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Column as int64; an error naming file, line and column for any non-integer."""
    numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers != np.floor(numbers))
    if bad.any():
        problems = [
            f"{path} line {pos + 1}, column {column!r}: {frame[column].iloc[pos]!r} is not an "
            "integer"
            for pos in np.flatnonzero(bad.to_numpy())[:20]
        ]
        raise DataValidationError(problems, int(bad.sum()))
    return numbers.astype(np.int64)


def _interactions(path: Path) -> pd.DataFrame:
    raw = _read(path, "\t", ["user", "item", "rating", "timestamp"])
    seconds = _integers(raw, "timestamp", path)
    return pd.DataFrame(
        {
            "client_id": _integers(raw, "user", path).astype(str).astype("str"),
            "item_id": _integers(raw, "item", path).astype(str).astype("str"),
            "event_type": pd.Series("usage", index=raw.index, dtype="str"),
            "timestamp": pd.to_datetime(seconds, unit="s", utc=True).dt.as_unit("us"),
            "value": _integers(raw, "rating", path).astype(np.float64),
        }
    )


def _clients(path: Path) -> pd.DataFrame:
    raw = _read(path, "|", ["user", "age", "gender", "occupation", "zip"])
    age = _integers(raw, "age", path)
    bands = pd.cut(age, bins=list(_AGE_EDGES), labels=list(_AGE_LABELS), right=False)
    return pd.DataFrame(
        {
            "client_id": _integers(raw, "user", path).astype(str).astype("str"),
            "age": age,
            "age_band": bands.astype(str).astype("str"),
            "gender": raw["gender"].str.strip().astype("str"),
            "occupation": raw["occupation"].str.strip().astype("str"),
            "zip_region": raw["zip"].str.strip().str[:1].astype("str"),
        }
    )


def _genres(path: Path) -> list[str]:
    raw = _read(path, "|", ["name", "index"])
    raw = raw[raw["name"].str.strip() != ""]
    order = _integers(raw.reset_index(drop=True), "index", path)
    return [name for _, name in sorted(zip(order, raw["name"].str.strip(), strict=True))]


def _items(path: Path, genres: list[str]) -> pd.DataFrame:
    names = ["item", "title", "release_date", "video_date", "url", *genres]
    raw = _read(path, "|", names, encoding="latin-1")
    flags = raw[genres].to_numpy() == "1"
    years = pd.to_numeric(raw["release_date"].str.strip().str[-4:], errors="coerce")
    return pd.DataFrame(
        {
            "item_id": _integers(raw, "item", path).astype(str).astype("str"),
            "name": raw["title"].str.strip().astype("str"),
            "genres": [[g for g, on in zip(genres, row, strict=True) if on] for row in flags],
            "year": years.astype("Int64"),
        }
    )


def load_movielens_100k(
    path: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(interactions, clients, items)`` frames from the ml-100k folder at ``path``.

    interactions: client_id, item_id, event_type='usage', timestamp (UTC), value=rating;
    clients: client_id, age, age_band, gender, occupation, zip_region (first zip character);
    items: item_id, name, genres (list of genre names), year (nullable).
    """
    folder = Path(path) if path is not None else default_ml100k_path()
    if not folder.is_dir():
        raise FileNotFoundError(f"MovieLens-100k folder not found: {folder}")
    for name in ML100K_FILES:
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"MovieLens-100k: missing file {folder / name} "
                f"(the folder must hold {', '.join(ML100K_FILES)})"
            )
    genres = _genres(folder / "u.genre")
    return (
        _interactions(folder / "u.data"),
        _clients(folder / "u.user"),
        _items(folder / "u.item", genres),
    )
