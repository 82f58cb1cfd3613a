"""``--format table|csv|json`` of the listing commands, and tables that are not cut when piped."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.recommender.experiments.conftest import experiment_data
from tests.recommender.experiments.simulate import ab_events
from training.cli.common import PIPE_WIDTH, OutputFormat, render_rows, table_console
from training.cli.main import app

NAME = "offers-recommender"
runner = CliRunner()


@pytest.fixture(scope="module")
def one_version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with one registered version (popularity), alias champion."""
    from feature_store.offline import OfflineStore
    from tests.training.conftest import make_tables
    from training.train import TrainSettings, train

    root = tmp_path_factory.mktemp("formats") / "data"
    OfflineStore(root).write_snapshot(make_tables())
    train(TrainSettings(model="popularity"), root, alias="champion", show_progress=False)
    return root


def test_models_json_and_csv(one_version: Path) -> None:
    data = ["--data-dir", str(one_version)]
    as_json = runner.invoke(app, ["models", *data, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.stdout)
    assert (row["name"], row["version"], row["model"]) == (NAME, "1", "popularity")
    assert row["aliases"] == ["champion"]
    assert row["run_id"]
    assert row["created"].endswith("+00:00")

    as_csv = runner.invoke(app, ["models", *data, "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    (line,) = csv.DictReader(io.StringIO(as_csv.stdout))
    assert (line["name"], line["version"], line["aliases"]) == (NAME, "1", "champion")
    assert line["run_id"] == row["run_id"]


def test_models_table_is_not_cut_when_piped(one_version: Path) -> None:
    result = runner.invoke(app, ["models", "--data-dir", str(one_version)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(
        runner.invoke(app, ["models", "--data-dir", str(one_version), "--format", "json"]).stdout
    )
    assert row["run_id"] in result.output  # whole, not "3f2a…"
    assert "…" not in result.output


@pytest.fixture(scope="module")
def events_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ab") / "events.csv"
    ab_events([1500, 1500], (0.10, 0.14), seed=4).to_csv(path, index=False)
    return path


def test_ab_report_json_is_the_report_on_stdout(events_csv: Path, tmp_path: Path) -> None:
    args = ["ab", "report", "exp", "--events", str(events_csv), "--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the note about the missing file went to stderr
    assert [v["variant"] for v in report["variants"]] == ["control", "treatment"]
    assert "not in" in result.stderr


def test_ab_report_csv_has_one_row_per_variant(events_csv: Path, tmp_path: Path) -> None:
    args = ["ab", "report", "exp", "--events", str(events_csv), "--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["variant"] for r in rows] == ["control", "treatment"]
    control, treatment = rows
    assert control["is_control"] == "True"
    assert control["conversion_p_value"] == ""  # no uplift of the control over itself
    assert 0 <= float(treatment["conversion_p_value"]) <= 1
    assert float(treatment["conversion_relative"]) > 0
    assert int(treatment["clients"]) == 1500


def test_ab_report_table_is_not_cut_when_piped(events_csv: Path, tmp_path: Path) -> None:
    args = ["ab", "report", "exp", "--events", str(events_csv), "--data-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert "revenue/client" in result.stdout
    assert "mSPRT p" in result.stdout


def test_ab_list_formats(tmp_path: Path) -> None:
    industries = ["healthcare", "government", "education", "manufacturing", "transport"]
    definition = experiment_data(
        name="a-rather-long-experiment-name",
        variants=[
            {"name": "control", "target": "champion", "weight": 1},
            {"name": "treatment-with-a-long-name", "target": "challenger", "weight": 3},
        ],
    )
    definition["targeting"] = {"industries": industries}
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump([definition]))
    data = ["--data-dir", str(tmp_path)]

    table = runner.invoke(app, ["ab", "list", *data])
    assert table.exit_code == 0, table.output
    assert "…" not in table.output
    assert ", ".join(industries) in table.output  # one unwrapped line, as wide as it needs

    (row,) = json.loads(runner.invoke(app, ["ab", "list", *data, "--format", "json"]).stdout)
    assert row["name"] == "a-rather-long-experiment-name"
    assert row["variants"] == [
        "control:champion:0.25",
        "treatment-with-a-long-name:challenger:0.75",
    ]
    assert row["industries"] == industries
    (line,) = csv.DictReader(
        io.StringIO(runner.invoke(app, ["ab", "list", *data, "--format", "csv"]).stdout)
    )
    assert line["industries"] == ";".join(industries)


def test_piped_consoles_are_wide(capsys: pytest.CaptureFixture[str]) -> None:
    assert table_console().width == PIPE_WIDTH  # stdout is captured: not a terminal
    assert table_console(160, stderr=True).width == PIPE_WIDTH


def test_render_rows() -> None:
    rows = [{"a": 1, "b": ["x", "y"], "c": None}]
    assert render_rows(rows, ("a", "b", "c"), OutputFormat.CSV) == "a,b,c\n1,x;y,\n"
    assert json.loads(render_rows(rows, ("a", "b"), OutputFormat.JSON)) == [
        {"a": 1, "b": ["x", "y"]}
    ]
    with pytest.raises(ValueError, match="csv or json"):
        render_rows(rows, ("a",), OutputFormat.TABLE)


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "--data-dir", str(tmp_path), "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output
