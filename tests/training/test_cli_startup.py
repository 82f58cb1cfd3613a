"""``recsys`` starts light: help screens and an empty listing load no heavy library.

Each help screen runs in a fresh interpreter (the test process has long loaded pandas & co.),
through a small wrapper that runs the CLI in-process, catches ``SystemExit`` and reports the
heavy modules then present in ``sys.modules``. Only what is loaded is checked here, never wall
times: those belong to ``benchmarks/bench_cli.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from training.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numba", "pandas", "redis", "mlflow", "sklearn", "scipy", "implicit", "lightfm",
         "lightgbm")  # fmt: skip
WRAPPER = """
import json, sys
import typer.main
from training.cli.main import app

heavy = json.loads(sys.argv[1])
try:
    typer.main.get_command(app).main(args=sys.argv[2:], prog_name="recsys")
    code = 0
except SystemExit as stop:
    code = stop.code
loaded = sorted(m for m in heavy if m in sys.modules)
print("\\nWRAPPER-RESULT " + json.dumps({"code": code, "loaded": loaded}))
"""


def _walk(command: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*prefix, name))


COMMAND_PATHS = list(_walk(typer.main.get_command(app), ()))


def _run_cli(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, json.dumps(HEAVY), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    marker = done.stdout.rindex("WRAPPER-RESULT ")
    result: dict[str, Any] = json.loads(done.stdout[marker:].split(" ", 1)[1])
    result["output"] = done.stdout[:marker]
    return result


def test_the_tree_is_walked() -> None:
    assert {("train",), ("models",), ("events", "flush"), ("ab", "report")} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "recsys")
def test_help_loads_no_heavy_library(path: tuple[str, ...]) -> None:
    result = _run_cli(*path, "--help")
    assert result["code"] == 0, result["output"]
    assert "Usage" in result["output"]
    assert result["loaded"] == [], f"`recsys {' '.join(path)} --help` loaded {result['loaded']}"


def test_models_on_an_empty_data_dir_creates_nothing_and_loads_no_mlflow(tmp_path: Path) -> None:
    result = _run_cli("models", "--data-dir", str(tmp_path), "--format", "json")
    assert result["code"] == 0, result["output"]
    assert json.loads(result["output"]) == []
    assert result["loaded"] == []
    assert list(tmp_path.iterdir()) == []  # no MLflow store made just to list nothing


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "no registered models"),
        (["--format", "json"], "[]\n"),
        (["--format", "csv"], "name,version,aliases,model,"),
    ],
)
def test_models_on_an_empty_data_dir(tmp_path: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, ["models", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(expected)
    assert not (tmp_path / "mlflow").exists()


def test_light_copies_match_their_sources() -> None:
    """Constants repeated in the CLI so that importing it stays light."""
    from feature_store.cli import DEFAULT_CONSUMER
    from feature_store.flush import DEFAULT_CONSUMER as FLUSH_CONSUMER
    from recommender.evaluation.splits import SPLIT_NAMES
    from recommender.nbo_table import FORMATS
    from recommender.paths import DEFAULT_MODEL_NAME
    from training.cli.common import SPLIT_NAMES as CLI_SPLIT_NAMES
    from training.cli.nbo import EXPORT_FORMATS
    from training.cli.train import DEFAULT_NAME
    from training.tracking import TRACKING_URI_ENV

    assert CLI_SPLIT_NAMES == SPLIT_NAMES
    assert EXPORT_FORMATS == FORMATS
    assert DEFAULT_CONSUMER == FLUSH_CONSUMER
    assert DEFAULT_NAME == DEFAULT_MODEL_NAME
    assert TRACKING_URI_ENV == "MLFLOW_TRACKING_URI"  # read directly by `recsys models`


def test_the_empty_store_check_looks_where_resolve_points(tmp_path: Path) -> None:
    from training.cli.train import _no_embedded_store
    from training.tracking import resolve

    database = Path(resolve(tmp_path).tracking_uri.removeprefix("sqlite:///"))
    assert _no_embedded_store(tmp_path, None)
    database.parent.mkdir(parents=True)
    database.touch()
    assert not _no_embedded_store(tmp_path, None)
    assert not _no_embedded_store(tmp_path / "elsewhere", "http://mlflow:5000")


def test_a_named_model_on_an_empty_data_dir_is_unknown(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no registered model named 'nope'" in result.stderr
    assert not (tmp_path / "mlflow").exists()
