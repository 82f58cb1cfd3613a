"""The compose file must stay consistent with the settings and the CLI it runs."""

import re
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


def _api_services() -> dict[str, dict]:
    """The services that run ``recsys serve``."""
    return {name: s for name, s in _our_services().items() if s["command"][0] == "serve"}


def _port(service: dict) -> str:
    command = service["command"]
    return str(command[command.index("--port") + 1])


@pytest.mark.parametrize("service", sorted(_api_services()))
def test_production_api_sets_an_admin_key(service: str) -> None:
    api = _api_services()[service]
    assert api["environment"]["RECSYS_MODE"] == "production"
    assert "RECSYS_ADMIN_KEY" in api["environment"]


def test_the_balancer_fronts_every_api_service_of_its_profile() -> None:
    """Profile "scale": HAProxy runs configs/haproxy.cfg, with every "${NAME}" the config
    reads set, and its servers are the API services of the profile, at their ports."""
    haproxy = _compose()["services"]["haproxy"]
    mounted = {v.split(":")[0]: v.split(":")[1] for v in haproxy["volumes"]}
    assert mounted == {"./configs/haproxy.cfg": "/usr/local/etc/haproxy/haproxy.cfg"}
    lines = (ROOT / "configs" / "haproxy.cfg").read_text().splitlines()
    config = "\n".join(line.partition("#")[0] for line in lines)  # comments dropped
    assert set(re.findall(r"\$\{(\w+)}", config)) == set(haproxy["environment"])
    servers = re.findall(r'^\s*server \S+ "\$\{(\w+)}"', config, flags=re.MULTILINE)
    addresses = {haproxy["environment"][name] for name in servers}
    apis = _api_services()
    behind = {
        f"{name}:{_port(s)}"
        for name, s in apis.items()
        if not s.get("profiles") or set(s["profiles"]) & set(haproxy["profiles"])
    }
    assert addresses == behind
    assert set(haproxy["depends_on"]) == {a.split(":")[0] for a in addresses}


@pytest.mark.parametrize("service", sorted(_our_services()))
def test_service_commands_exist_in_the_cli(service: str) -> None:
    command = _our_services()[service]["command"]
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
