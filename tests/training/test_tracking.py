"""Tracking URI resolution, the reachability check, and MLflow-safe names."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.cli.main import app
from training.tracking import (
    TrackingUnreachableError,
    check_reachable,
    connect,
    finite_metrics,
    flatten,
    metric_key,
    resolve,
)


def closed_port_uri() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    tracking = resolve(tmp_path)
    assert tracking.tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert tracking.registry_uri == tracking.tracking_uri
    assert tracking.artifact_root == (tmp_path / "mlflow" / "artifacts").as_uri()
    assert not tracking.is_remote


def test_env_then_explicit_uri_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert resolve(tmp_path).tracking_uri == "http://mlflow.internal:5000"
    assert resolve(tmp_path).artifact_root is None
    assert resolve(tmp_path, "http://other:1").tracking_uri == "http://other:1"


def test_unreachable_server_names_the_uri_quickly() -> None:
    uri = closed_port_uri()
    started = time.monotonic()
    with pytest.raises(TrackingUnreachableError, match=uri.replace(".", r"\.")):
        check_reachable(resolve(tracking_uri=uri), timeout_s=1.0)
    assert time.monotonic() - started < 30  # bounded by the timeout, not by retries


def test_cli_reports_an_unreachable_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = closed_port_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 2, result.output
    assert uri in result.output.replace("\n", "")
    result = CliRunner().invoke(
        app, ["train", "--model", "popularity", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "unreachable" in result.output


def test_connect_creates_the_experiment_in_the_data_dir(tmp_path: Path) -> None:
    tracking, first = connect(tmp_path, experiment="exp")
    _, second = connect(tmp_path, experiment="exp")
    assert first == second
    experiment = tracking.client().get_experiment(first)
    assert experiment.artifact_location.startswith((tmp_path / "mlflow" / "artifacts").as_uri())
    assert (tmp_path / "mlflow" / "mlflow.db").is_file()
    # A second data dir in the same process gets its own store (mlflow exports the URI).
    other, _ = connect(tmp_path / "other", experiment="exp")
    assert str(tmp_path / "other") in other.tracking_uri


def test_names_mlflow_accepts() -> None:
    assert metric_key("ndcg@10") == "ndcg_at_10"
    assert metric_key("industry/it & telecom") == "industry/it _ telecom"
    assert flatten({"a": 1, "b": {"c": [1, 2]}}) == {"a": "1", "b.c": "[1, 2]"}
    assert finite_metrics({"x@5": 1.0, "nan": float("nan"), "inf": float("inf")}) == {"x_at_5": 1.0}
