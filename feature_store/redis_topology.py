"""Which Redis the store talks to, chosen by the form of ``REDIS_URL``.

    redis://[[user]:password@]host:port/db     one server (also rediss:// for TLS, unix://)
    redis+cluster://[[user]:password@]host:port,host:port,...
                                               a Redis Cluster; any reachable node will do,
                                               the client learns the others (rediss+cluster://)
    redis+sentinel://[[user]:password@]host:port,host:port,.../mastername[/db]
                                               a master watched by Sentinels; the client asks
                                               them where the master is, again after a failover
                                               (``?sentinel_password=`` when they need one)

The single-server and Sentinel clients are ``redis.Redis``; the cluster one is
``redis.cluster.RedisCluster``, which routes each command to the node of its key's slot and
follows the cluster through failovers (see ``feature_store.keys`` for the slots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

#: The client of any topology (commands the store uses exist on both).
RedisClient = redis.Redis | RedisCluster


class Topology(StrEnum):
    SINGLE = "single"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


_TOPOLOGIES = {
    "redis": Topology.SINGLE,
    "rediss": Topology.SINGLE,
    "unix": Topology.SINGLE,
    "redis+cluster": Topology.CLUSTER,
    "rediss+cluster": Topology.CLUSTER,
    "redis+sentinel": Topology.SENTINEL,
}
SCHEMES = tuple(_TOPOLOGIES)


class RedisUrlError(ValueError):
    """``REDIS_URL`` cannot be used; the message never contains the password."""


@dataclass(frozen=True)
class RedisTarget:
    """What a ``REDIS_URL`` names."""

    topology: Topology
    url: str = field(repr=False)
    hosts: tuple[tuple[str, int], ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    master: str | None = None
    db: int = 0
    tls: bool = False
    sentinel_password: str | None = field(default=None, repr=False)


def topology_of(url: str) -> Topology:
    """The topology ``url``'s scheme names; ``RedisUrlError`` for an unknown scheme."""
    scheme = urlsplit(url).scheme
    if scheme not in _TOPOLOGIES:
        raise RedisUrlError(
            f"REDIS_URL must start with one of {', '.join(s + '://' for s in SCHEMES)} "
            f"(got {scheme or 'no'} scheme)"
        )
    return _TOPOLOGIES[scheme]


def parse(url: str) -> RedisTarget:
    """Read ``url``; ``RedisUrlError`` naming the bad part (never the password)."""
    topology = topology_of(url)
    if topology is Topology.SINGLE:
        return RedisTarget(topology, url)
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    hosts = tuple(_host_port(h, parts.scheme) for h in hostlist.split(",") if h.strip())
    if not hosts:
        raise RedisUrlError(f"REDIS_URL ({parts.scheme}://) names no host:port")
    path = [unquote(p) for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)
    target = RedisTarget(
        topology,
        url,
        hosts=hosts,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=parts.scheme.startswith("rediss"),
        sentinel_password=query["sentinel_password"][0] if "sentinel_password" in query else None,
    )
    if topology is Topology.CLUSTER:
        if path not in ([], ["0"]):
            raise RedisUrlError("a Redis Cluster has only database 0: drop the path of REDIS_URL")
        return target
    if not path or len(path) > 2:
        raise RedisUrlError(
            "REDIS_URL redis+sentinel:// needs the master's name as its path: "
            "redis+sentinel://host:port,host:port/mymaster[/db]"
        )
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise RedisUrlError(f"REDIS_URL: database {db!r} is not a number")
    return RedisTarget(**{**target.__dict__, "master": path[0], "db": int(db)})


def _host_port(text: str, scheme: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit():
        raise RedisUrlError(f"REDIS_URL ({scheme}://): {text.strip()!r} is not host:port")
    return host.strip("[]"), int(port)


def connect(url: str, options: dict[str, Any]) -> RedisClient:
    """A client for ``url`` with connection ``options`` (timeouts, retry).

    A single server or a Sentinel setup is not contacted here (a service may start before
    Redis); a cluster is, to learn its slots: ``redis.RedisError`` when no node answers.
    """
    target = parse(url)
    if target.topology is Topology.SINGLE:
        return redis.Redis.from_url(url, **options)
    options = {**options, "username": target.username, "password": target.password}
    if target.topology is Topology.CLUSTER:
        nodes = [ClusterNode(host, port) for host, port in target.hosts]
        return RedisCluster(startup_nodes=nodes, ssl=target.tls, **options)
    sentinel_options = {
        k: v for k, v in options.items() if k in ("socket_timeout", "socket_connect_timeout")
    }
    if target.sentinel_password:
        sentinel_options["password"] = target.sentinel_password
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_options)
    assert target.master is not None  # parse() requires it
    return sentinel.master_for(target.master, db=target.db, **options)


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)


def socket_timeout(client: RedisClient) -> float | None:
    """The read timeout of ``client``'s connections (None: wait forever)."""
    if isinstance(client, RedisCluster):
        kwargs = client.nodes_manager.connection_kwargs
    else:
        kwargs = client.connection_pool.connection_kwargs
    timeout = kwargs.get("socket_timeout")
    return None if timeout is None else float(timeout)
