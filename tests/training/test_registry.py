"""Registry: versions, aliases, promotion and loading a bundle by alias (real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from training import registry
from training.cli.main import app
from training.tracking import resolve
from training.train import TrainSettings, train

NAME = "offers-recommender"
#: EASE without dropout or a low-rank part: on the tiny tables it loses to industry popularity.
PLAIN_EASE = {"l2": 10.0, "dropout": 0.0, "low_rank": 0}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from feature_store.offline import OfflineStore
    from tests.training.conftest import make_tables

    root = tmp_path_factory.mktemp("registry") / "data"
    OfflineStore(root).write_snapshot(make_tables())
    train(TrainSettings(model="popularity"), root, show_progress=False)
    train(TrainSettings(model="ease", config=PLAIN_EASE), root, show_progress=False)
    return root


def test_promote_and_list(two_versions: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(two_versions)]
    result = runner.invoke(app, ["promote", NAME, "--version", "1", "--alias", "champion", *data])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["promote", NAME, "--version", "2", "--alias", "challenger", *data])
    assert result.exit_code == 0, result.output
    listed = registry.list_versions(resolve(two_versions).client(), NAME)
    assert [(v.version, v.aliases, v.model) for v in listed] == [
        ("2", ("challenger",), "ease"),
        ("1", ("champion",), "popularity"),
    ]
    # what `recsys models` reads through: the registry alone, the same listing
    reader = registry.registry_reader(resolve(two_versions))
    assert not isinstance(reader, MlflowClient)  # which would open the tracking store too
    assert registry.list_versions(reader) == listed
    with pytest.raises(registry.RegistryError, match="no registered model"):
        registry.list_versions(reader, "nobody")
    result = runner.invoke(app, ["models", *data], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "champion" in result.output
    assert "challenger" in result.output


def test_alias_moves_and_load_servable_follows(two_versions: Path) -> None:
    client = resolve(two_versions).client()
    uri = resolve(two_versions).tracking_uri
    registry.promote(client, NAME, "2", "champion", force=True)
    servable, version = registry.load_servable(NAME, "champion", uri)
    assert (servable.name, version) == ("ease", "2")
    assert servable.item_item is not None
    assert np.isfinite(servable.item_item).all()
    by_number, version = registry.load_servable(NAME, "1", uri)
    assert (by_number.name, version) == ("popularity", "1")


def test_a_version_losing_to_the_uniform_offer_needs_force(two_versions: Path) -> None:
    """EASE on the tiny tables loses to industry popularity: champion only with --force."""
    client = resolve(two_versions).client()
    tags = client.get_model_version(NAME, "2").tags
    assert tags[registry.TAG_BEATS] == "false"
    assert float(tags[registry.TAG_UPLIFT]) < 0
    runner, data = CliRunner(), ["--data-dir", str(two_versions)]
    registry.promote(client, NAME, "1", "champion")  # popularity: the uniform offer itself
    refused = runner.invoke(app, ["promote", NAME, "--version", "2", *data])
    assert refused.exit_code == 2
    assert "loses to the uniform offer" in refused.output
    assert registry.aliases_of(client, NAME)["champion"] == "1"
    forced = runner.invoke(app, ["promote", NAME, "--version", "2", "--force", *data])
    assert forced.exit_code == 0, forced.output
    assert registry.aliases_of(client, NAME)["champion"] == "2"
    assert "--force" in client.get_model_version(NAME, "2").tags[registry.TAG_FORCED]
    listed = runner.invoke(app, ["models", *data], terminal_width=200)
    assert f"{float(tags[registry.TAG_UPLIFT]):+.1%}" in listed.output


@pytest.mark.parametrize(
    ("ref", "message"),
    [("gold", r"no alias 'gold' \(versions: 2, 1; aliases: .*champion"), ("9", "no version 9")],
)
def test_missing_alias_or_version_is_a_clear_error(
    two_versions: Path, ref: str, message: str
) -> None:
    uri = resolve(two_versions).tracking_uri
    with pytest.raises(registry.RegistryError, match=message):
        registry.load_servable(NAME, ref, uri)
    args = ["promote", NAME, "--version", ref, "--data-dir", str(two_versions)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no version" in result.output or "no alias" in result.output


def test_unknown_registered_model(two_versions: Path) -> None:
    with pytest.raises(registry.RegistryError, match="no registered model named 'other'"):
        registry.load_servable("other", "champion", resolve(two_versions).tracking_uri)
