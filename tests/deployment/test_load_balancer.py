"""Several API hosts: two ``recsys serve`` instances behind Debian's HAProxy (the repository's
``configs/haproxy.cfg``), sharing one redis-server and one ``mlflow server``.

While client threads ask for recommendations through HAProxy:
- a promotion (the champion alias moved to a new version) reaches both instances within a
  couple of alias polls, and not one request fails during the move;
- an instance killed outright (SIGKILL) costs at most the requests it had in flight: HAProxy
  retries them on the other one, and its health check takes the dead one out of the pool;
- the health check is ``GET /readyz``: a restarted instance gets no request until it answers,
  then rejoins.
The figures (requests, failures, seconds) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.deployment.stack import Haproxy, Instance, MlflowServer, haproxy_binary
from tests.feature_store.redis_server import RedisServer
from tests.serving.conftest import eventually, load_store
from tests.serving.live import Load
from training.registry import promote

HAPROXY = haproxy_binary()
NAME = "offers-balanced"
#: RECSYS_RELOAD_POLL_S of both instances.
POLL_S = 2.0
#: Client threads, one request in flight each: the bound on requests in flight at any time.
CLIENTS = 4
#: Generous waits for a loaded 2-core machine; the assertions are about counts, not speed.
WAIT_S = 120.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        HAPROXY is None,
        reason="the haproxy binary is absent: apt-get install haproxy (.ci/run installs it)",
    ),
]


@dataclass
class Stack:
    registry: MlflowClient
    versions: list[str]
    instances: list[Instance]
    haproxy: Haproxy

    def up(self) -> bool:
        servers = self.haproxy.servers()
        return all(servers[i.name]["status"] == "UP" for i in self.instances)

    def requests_to(self) -> dict[str, int]:
        """Requests HAProxy sent to each instance so far."""
        return {name: int(row["stot"]) for name, row in self.haproxy.servers().items()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert HAPROXY is not None
    root = tmp_path_factory.mktemp("scale")
    started: list[MlflowServer | Instance | Haproxy] = []
    with RedisServer(root / "redis") as redis_server:
        load_store(redis_server.url, root / "store").redis.close()  # the shared online store
        try:
            mlflow_server = MlflowServer(root)
            started.append(mlflow_server)  # stopped even when its start fails
            mlflow_server.start()
            versions = [mlflow_server.register(NAME, seed) for seed in (7, 11)]
            registry = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
            promote(registry, NAME, versions[0], "champion")
            instances = [
                Instance(name, root, mlflow_server.url, redis_server.url, NAME, POLL_S)
                for name in ("api1", "api2")
            ]
            for instance in instances:  # both start at once
                started.append(instance.launch())
            for instance in instances:
                instance.wait_ready()
            haproxy = Haproxy(HAPROXY, root, instances)
            started.append(haproxy)
            haproxy.start()
            stack = Stack(registry, versions, instances, haproxy)
            assert eventually(stack.up, WAIT_S), haproxy.servers()
            yield stack
        finally:
            for process in reversed(started):
                process.stop()


def test_the_config_is_valid_for_haproxy(tmp_path: Path) -> None:
    assert HAPROXY is not None
    instances = [
        Instance(name, tmp_path, "http://127.0.0.1:5000", "redis://127.0.0.1:6379/0", NAME, 1)
        for name in ("api1", "api2")
    ]
    result = Haproxy(HAPROXY, tmp_path, instances).check_config()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_health_check_is_readyz(stack: Stack) -> None:
    servers = stack.haproxy.servers()
    for instance in stack.instances:
        row = servers[instance.name]
        assert (row["status"], row["check_status"], row["check_code"]) == ("UP", "L7OK", "200")
    # the checks land on each instance's /readyz (its own request counter grows)
    counts = {i.name: i.readiness_checks() for i in stack.instances}
    assert eventually(
        lambda: all(i.readiness_checks() >= counts[i.name] + 3 for i in stack.instances), WAIT_S
    )


def test_a_promotion_reaches_both_instances_without_a_failed_request(stack: Stack) -> None:
    old, new = stack.versions
    load = Load(stack.haproxy.port, clients=CLIENTS)
    switched: dict[str, float] = {}
    try:
        load.start()
        assert eventually(lambda: len(load.versions) >= 50, WAIT_S), load.failures[:3]
        assert set(load.versions) == {f"als:{old}"}
        before = stack.requests_to()

        promoted_at = time.monotonic()
        promote(stack.registry, NAME, new, "champion")

        def both_switched() -> bool:
            for instance in stack.instances:
                version = instance.serving_version()
                if instance.name not in switched and version == f"als:{new}":
                    switched[instance.name] = time.monotonic() - promoted_at
            return len(switched) == len(stack.instances)

        assert eventually(both_switched, WAIT_S), switched
        # the answers through the balancer, from both instances, are all the new version
        assert eventually(lambda: load.latest_all(new, 100), WAIT_S), load.versions[-10:]
    finally:
        load.finish()
    after = stack.requests_to()
    print(
        f"\npromotion: {load.sent} requests through HAProxy, {len(load.failures)} non-2xx, "
        f"{len(load.broken)} broken; switched after "
        + ", ".join(f"{name} {s:.1f} s" for name, s in sorted(switched.items()))
        + f" (poll {POLL_S:.0f} s)"
    )
    assert load.failures == []
    assert load.broken == []
    assert all(after[i.name] > before[i.name] for i in stack.instances), (before, after)
    # the second instance follows the first within a poll interval: it takes the version on
    # its own next alias poll, or sooner on the first one's announcement over Redis (each
    # switch also waits for the download and load, seconds on a loaded 2-core machine)
    assert max(switched.values()) - min(switched.values()) <= POLL_S, switched


def test_a_killed_instance_costs_at_most_the_requests_in_flight(stack: Stack) -> None:
    victim, survivor = stack.instances
    assert stack.up(), stack.haproxy.servers()
    load = Load(stack.haproxy.port, clients=CLIENTS)
    try:
        load.start()
        assert eventually(lambda: len(load.versions) >= 50, WAIT_S), load.failures[:3]

        sent_at_kill = load.sent
        victim.kill()
        killed_at = time.monotonic()
        assert eventually(lambda: stack.haproxy.status(victim.name) == "DOWN", WAIT_S)
        out_after = time.monotonic() - killed_at
        answered = len(load.versions)
        assert eventually(lambda: len(load.versions) >= answered + 100, WAIT_S)
        lost = [*load.failures, *load.broken]
        sent_while_one = load.sent - sent_at_kill

        # restarted, it is checked (GET /readyz) and gets no request until it answers
        before_restart = stack.requests_to()[victim.name]
        victim.launch()
        while victim.serving_version() is None:
            assert victim.running, victim.log.read_text()[-3000:]
            servers = stack.haproxy.servers()
            if servers[victim.name]["status"].startswith("DOWN"):
                assert int(servers[victim.name]["stot"]) == before_restart
            time.sleep(0.2)
        assert eventually(lambda: stack.haproxy.status(victim.name) == "UP", WAIT_S)
        assert eventually(
            lambda: stack.requests_to()[victim.name] >= before_restart + 20, WAIT_S
        ), stack.haproxy.servers()
    finally:
        load.finish()
    backend = stack.haproxy.servers()
    retried = {name: (row["wretr"], row["wredis"]) for name, row in backend.items()}
    print(
        f"\nkill: {sent_while_one} requests from the kill until 100 answered by the survivor, "
        f"{len(lost)} failed ({CLIENTS} in flight at most); the dead instance left the pool "
        f"after {out_after:.1f} s; retries/redispatches per server {retried}; "
        f"{load.sent} requests in all, {len(load.failures) + len(load.broken)} failed"
    )
    assert len(lost) <= CLIENTS, lost
    # nothing more failed while it restarted and rejoined
    assert len(load.failures) + len(load.broken) == len(lost), (load.failures, load.broken)
    assert survivor.running
