"""``recsys nbo export`` on an offline store and a saved model bundle."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from recommender.dataset import Dataset
from recommender.models.registry import build_model
from recommender.synthetic.generator import SyntheticConfig, generate
from training.cli.main import app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("nbo-cli")
    data = generate(SyntheticConfig(n_clients=120, seed=3))
    OfflineStore(root).write_snapshot(
        {"clients": data.clients, "items": data.items, "interactions": data.interactions}
    )
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    model_dir = build_model("ease", {}).fit(dataset).export().save(root / "model")
    return root, model_dir, data.clients


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["nbo", "export", *args])
    return result.exit_code, result.output


def test_export_one_manager_csv(setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    root, model_dir, clients = setup
    manager = str(clients["manager_id"].value_counts().idxmax())
    out = tmp_path / "m.csv"
    code, output = _run("--manager", manager, "--out", str(out), "--k", "3",
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code == 0, output
    frame = pd.read_csv(out, dtype={"client_id": str})
    mine = clients.loc[clients["manager_id"] == manager, "client_id"]
    assert set(frame["client_id"]) == set(mine)
    assert "offer_3_name" in frame.columns and "offer_4" not in frame.columns
    assert frame["expected_value"].is_monotonic_decreasing
    assert not list(tmp_path.glob(".m.csv.*"))  # no temporary file left behind


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_export_all(setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path, fmt: str) -> None:
    root, model_dir, clients = setup
    out = tmp_path / f"all.{fmt}"
    code, output = _run("--all", "--format", fmt, "--out", str(out),
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code == 0, output
    if fmt == "parquet":
        assert len(pd.read_parquet(out)) == len(clients)
    else:
        sheet = load_workbook(out, read_only=True).active
        assert sheet is not None
        assert sum(1 for _ in sheet.iter_rows(values_only=True)) == len(clients) + 1


def test_needs_exactly_one_scope(setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    root, model_dir, _ = setup
    code, output = _run("--out", str(tmp_path / "x.csv"), "--data-dir", str(root),
                        "--model-dir", str(model_dir))  # fmt: skip
    assert code != 0 and "--manager" in output
    code, output = _run("--manager", "nobody", "--out", str(tmp_path / "x.csv"),
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code != 0 and "no clients" in output


@pytest.mark.parametrize(("lang", "word"), [("ru", "пользуются "), ("en", "used by ")])
def test_export_reasons_speak_the_chosen_language(
    setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path, lang: str, word: str
) -> None:
    root, model_dir, _ = setup
    out = tmp_path / f"{lang}.csv"
    code, output = _run("--all", "--out", str(out), "--lang", lang,
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code == 0, output
    reasons = pd.read_csv(out)["offer_1_reasons"].dropna()
    assert reasons.str.contains(word).any()


def test_export_refuses_a_language_it_does_not_speak(
    setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    root, model_dir, _ = setup
    code, output = _run("--all", "--out", str(tmp_path / "x.csv"), "--lang", "de",
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code != 0 and "--lang" in output


def test_xlsx_refuses_more_clients_than_a_sheet_holds(
    setup: tuple[Path, Path, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet has a row limit: said before ranking, nothing written (csv / parquet stream)."""
    import recommender.nbo_table

    root, model_dir, clients = setup
    monkeypatch.setattr(recommender.nbo_table, "XLSX_MAX_ROWS", len(clients) - 1)
    out = tmp_path / "all.xlsx"
    code, output = _run("--all", "--out", str(out),
                        "--data-dir", str(root), "--model-dir", str(model_dir))  # fmt: skip
    assert code != 0 and "do not fit in an XLSX sheet" in output and "csv or parquet" in output
    assert not list(tmp_path.iterdir())  # neither the file nor the work folder
