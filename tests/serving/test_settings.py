"""API keys in the settings: stripped, and long enough in production (never echoed back)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.settings import MIN_PRODUCTION_KEY_LENGTH, ServingSettings

LONG = "a-long-enough-admin-key"
SHORT = "x"


def _production(**values: object) -> ServingSettings:
    return ServingSettings(mode="production", **values)  # type: ignore[arg-type]


def _refused(match: str, secret: str, **values: object) -> str:
    with pytest.raises(ValidationError, match=match) as info:
        _production(**values)
    message = str(info.value)
    if secret.strip():
        assert secret not in message  # neither in the text nor as the echoed input
    return message


def test_minimum_length_is_meaningful() -> None:
    assert MIN_PRODUCTION_KEY_LENGTH >= 16
    assert len(LONG) >= MIN_PRODUCTION_KEY_LENGTH


def test_production_refuses_a_short_admin_key() -> None:
    message = _refused("RECSYS_ADMIN_KEY", "k3y", admin_key="k3y")
    assert str(MIN_PRODUCTION_KEY_LENGTH) in message
    _refused("RECSYS_ADMIN_KEY", SHORT, admin_key=SHORT)


def test_production_refuses_a_whitespace_only_admin_key() -> None:
    _refused("RECSYS_ADMIN_KEY", " ", admin_key="   \t ")


def test_production_refuses_short_or_blank_manager_keys() -> None:
    message = _refused(
        "RECSYS_MANAGER_KEYS", "short-m2", admin_key=LONG, manager_keys={"m002": "short-m2"}
    )
    assert "m002" in message
    _refused("RECSYS_MANAGER_KEYS", " ", admin_key=LONG, manager_keys={"m001": "    "})
    _refused("RECSYS_MANAGER_KEYS", " ", admin_key=LONG, manager_keys='{"m001": "   "}')


def test_production_refuses_a_short_cabinet_key() -> None:
    _refused("RECSYS_CABINET_KEY", "cab-key", admin_key=LONG, cabinet_key="cab-key")


def test_a_blank_cabinet_key_is_refused_not_treated_as_unset() -> None:
    """A blank key must not silently open the cabinet endpoints."""
    with pytest.raises(ValidationError, match="RECSYS_CABINET_KEY"):
        ServingSettings(cabinet_key="   ")  # type: ignore[arg-type]
    assert ServingSettings(cabinet_key="").cabinet_key is None  # type: ignore[arg-type]


def test_keys_are_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_ADMIN_KEY", f"  {LONG}\n")
    monkeypatch.setenv("RECSYS_CABINET_KEY", " a-long-enough-cabinet-key ")
    monkeypatch.setenv("RECSYS_MANAGER_KEYS", '{"m001": " a-long-enough-manager-key "}')
    settings = ServingSettings(mode="production")  # type: ignore[arg-type]
    assert settings.admin_key.get_secret_value() == LONG
    assert settings.cabinet_key is not None
    assert settings.cabinet_key.get_secret_value() == "a-long-enough-cabinet-key"
    assert settings.manager_keys["m001"].get_secret_value() == "a-long-enough-manager-key"


def test_stripped_keys_must_still_be_distinct() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        _production(admin_key=LONG, manager_keys={"m001": f" {LONG} "})


def test_production_accepts_long_keys_and_dev_accepts_short_ones() -> None:
    _production(
        admin_key=LONG,
        cabinet_key="a-long-enough-cabinet-key",
        manager_keys={"m001": "a-long-enough-manager-key"},
    )
    dev = ServingSettings(admin_key=SHORT, manager_keys={"m001": "k1"})  # type: ignore[arg-type]
    assert dev.admin_key.get_secret_value() == SHORT
