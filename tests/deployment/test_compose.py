"""The compose file must stay consistent with the settings and the CLI it runs."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from feature_store.settings import OnlineStoreSettings
from serving.settings import ServingSettings
from training.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _env_names(settings_class: type) -> set[str]:
    names: set[str] = set()
    prefix = settings_class.model_config.get("env_prefix", "")
    for name, field in settings_class.model_fields.items():
        names.add(f"{prefix}{name}".upper())
        alias = field.validation_alias
        if alias is not None:
            choices = getattr(alias, "choices", [alias])
            names.update(str(c).upper() for c in choices)
    return names


def _our_services() -> dict[str, dict]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").startswith("recsys-offers")
    }


def test_every_environment_variable_is_a_known_setting() -> None:
    known = _env_names(ServingSettings) | _env_names(OnlineStoreSettings)
    for name, service in _our_services().items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"service {name!r} sets unknown variables {sorted(unknown)}"


def test_production_api_sets_an_admin_key() -> None:
    api = _compose()["services"]["api"]
    assert api["environment"]["RECSYS_MODE"] == "production"
    assert "RECSYS_ADMIN_KEY" in api["environment"]


@pytest.mark.parametrize("service", sorted(_our_services()))
def test_service_commands_exist_in_the_cli(service: str) -> None:
    command = _our_services()[service]["command"]
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
