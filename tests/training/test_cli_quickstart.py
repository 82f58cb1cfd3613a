"""The README's main job, end to end on embedded defaults (without the blocking server)."""

import contextlib
import stat
from pathlib import Path

import redis
from mlflow import MlflowClient
from typer.testing import CliRunner

from feature_store.embedded import open_store
from feature_store.offline import OfflineStore
from feature_store.settings import OnlineStoreSettings
from recommender.paths import DEFAULT_MODEL_NAME
from training.cli.main import app
from training.tracking import resolve


def test_quickstart_builds_stores_and_registers_champion(tmp_path: Path, monkeypatch) -> None:
    # quickstart exports these for its workers; setenv + delenv makes pytest restore them
    for name in (
        "REDIS_URL",
        "MLFLOW_TRACKING_URI",
        "RECSYS_ADMIN_KEY",
        "RECSYS_MANAGER_KEYS",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app, ["quickstart", "--clients", "120", "--data-dir", str(tmp_path), "--no-serve"]
    )
    assert result.exit_code == 0, result.output

    clients = OfflineStore(tmp_path).read_table("clients")
    assert len(clients) == 120

    store = open_store(OnlineStoreSettings(data_dir=tmp_path))
    first = str(clients["client_id"].iloc[0])
    try:
        assert store.get_profiles([first])[first].value is not None
    finally:  # stop the embedded server the quickstart started, rather than leak it
        with contextlib.suppress(redis.ConnectionError):
            store.redis.shutdown(nosave=True)

    tracking = resolve(tmp_path)
    aliases = MlflowClient(tracking.tracking_uri).get_registered_model(DEFAULT_MODEL_NAME).aliases
    assert set(aliases) == {"champion", "challenger"}

    keys = tmp_path / "demo-keys.env"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "RECSYS_ADMIN_KEY=" in keys.read_text()
    assert "RECSYS_ADMIN_KEY" not in result.output
