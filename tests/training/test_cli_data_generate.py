import pandas as pd
from typer.testing import CliRunner

from training.cli.main import app

runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def test_generate_writes_the_three_files_and_prints_counts(tmp_path):
    result = runner.invoke(
        app, ["data", "generate", "--clients", "50", "--seed", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clients.csv", "interactions.csv", "items.csv",
    ]  # fmt: skip
    clients = pd.read_csv(tmp_path / "clients.csv")
    events = pd.read_csv(tmp_path / "interactions.csv")
    assert len(clients) == 50
    assert f"50 clients and {len(events)} interactions" in result.output


def test_generate_parquet_in_chunks(tmp_path):
    result = runner.invoke(
        app,
        ["data", "generate", "--clients", "30", "--chunk-size", "10", "--format", "parquet",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "clients.parquet")) == 30


def test_zero_clients_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "generate", "--clients", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "--clients" in result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_format_and_dates_are_clear_errors(tmp_path):
    bad_format = runner.invoke(
        app, ["data", "generate", "--format", "xlsx", "--out", str(tmp_path)]
    )
    assert bad_format.exit_code != 0
    assert "xlsx" in bad_format.output
    bad_window = runner.invoke(
        app, ["data", "generate", "--start", "2025-01-01", "--end", "2025-02-01"]
    )
    assert bad_window.exit_code != 0
    assert "at least 90 days" in bad_window.output
