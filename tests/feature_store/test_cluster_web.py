"""Web sessions, the failed-login limit and reload announcements on a Redis Cluster.

The same features as ``tests/serving/web/test_web_security.py`` and
``tests/serving/test_reload_broadcast.py``, with ``REDIS_URL=redis+cluster://``: each app
instance stands for one worker, and what one worker writes (a session, a failure count, a
reload announcement) must reach the other through the cluster, whichever node holds the key
(a session and a counter are single keys: no transaction spans slots) or answers the
subscription (a PUBLISH reaches every node of a cluster).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from feature_store.redis_store import RedisOnlineStore
from serving.app import create_app
from serving.settings import ServingSettings
from tests.feature_store.redis_topologies import LocalCluster
from tests.serving.conftest import (
    MANAGER_KEYS,
    fit_bundle,
    load_store,
    make_settings,
)
from tests.serving.test_reload_broadcast import reload_reaches_the_other
from tests.serving.web.forms import SAME_ORIGIN, csrf_of, login

pytestmark = pytest.mark.slow

M001 = MANAGER_KEYS["m001"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with_cluster = LocalCluster().start()
    yield with_cluster
    with_cluster.close()


@pytest.fixture(scope="module")
def served(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServingSettings, RedisOnlineStore]]:
    data_dir = tmp_path_factory.mktemp("cluster-web")
    store = load_store(cluster.url, data_dir)
    settings = make_settings(fit_bundle(data_dir / "model"), cluster.url, data_dir)
    yield settings, store
    store.redis.close()


@contextmanager
def worker(settings: ServingSettings, address: str, **update: object) -> Iterator[TestClient]:
    """One app instance (a worker) whose requests come from ``address``."""
    app = create_app(settings.model_copy(update=update))
    with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as client:
        assert client.app.state.store.store.cluster  # type: ignore[attr-defined]
        yield client


def _sessions(store: RedisOnlineStore) -> list[bytes]:
    return list(store.redis.scan_iter(match=f"{store.keys.prefix}session:*"))


def test_a_session_and_its_csrf_forms_work_across_workers_on_a_cluster(
    served: tuple[ServingSettings, RedisOnlineStore],
) -> None:
    settings, store = served
    with worker(settings, "10.1.0.1") as one, worker(settings, "10.1.0.1") as two:
        assert login(one, M001).status_code == 303
        (session,) = _sessions(store)
        assert 0 < store.redis.ttl(session) <= settings.session_ttl_s
        two.cookies.set("recsys_session", one.cookies["recsys_session"])
        page = two.get("/managers/m001")
        assert page.status_code == 200  # the session written by one worker, read by the other
        forged = two.post("/logout", data={"csrf": "B" * 43}, headers=SAME_ORIGIN,
                          follow_redirects=False)  # fmt: skip
        assert forged.status_code == 403
        assert len(_sessions(store)) == 1
        logout = two.post("/logout", data={"csrf": csrf_of(page.text)}, headers=SAME_ORIGIN,
                          follow_redirects=False)  # fmt: skip
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert _sessions(store) == []
        assert one.get("/managers/m001", follow_redirects=False).status_code == 303


def test_failed_logins_are_counted_across_workers_on_a_cluster(
    served: tuple[ServingSettings, RedisOnlineStore],
) -> None:
    settings, store = served
    limit = 3
    address = "10.1.0.2"
    with (
        worker(settings, address, failed_key_limit=limit) as one,
        worker(settings, address, failed_key_limit=limit) as two,
    ):
        codes = [login(one if n % 2 else two, f"guess-{n}").status_code for n in range(limit + 2)]
        assert codes == [401] * limit + [429] * 2  # one count for both workers
        refused = login(one, M001)  # a right key from that address: refused too
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= settings.failed_key_window_s
        counter = f"{store.keys.prefix}failed-keys:{address}"
        assert int(store.redis.get(counter)) == limit + 2  # in the cluster, not per process
        assert not one.app.state.store.degraded  # type: ignore[attr-defined]
    with worker(settings, "10.1.0.3", failed_key_limit=limit) as colleague:
        assert login(colleague, M001).status_code == 303
        assert colleague.get("/managers/m001").status_code == 200


def test_a_reload_announced_on_a_cluster_reaches_the_other_worker(
    served: tuple[ServingSettings, RedisOnlineStore], tmp_path: Path
) -> None:
    settings, _ = served
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    with (
        worker(settings, "10.1.0.4", model_dir=bundle) as first,
        worker(settings, "10.1.0.4", model_dir=bundle) as second,
    ):
        reload_reaches_the_other(first, second, bundle)
