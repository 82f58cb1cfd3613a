"""Real Redis Cluster and Sentinel setups for tests, from the redis-server the project ships.

``LocalCluster``: 3 masters + 3 replicas (``cluster-enabled yes``) on free loopback ports,
joined with CLUSTER ADDSLOTS / MEET / REPLICATE from Python (no redis-cli needed), with a short
``cluster-node-timeout`` so a killed master's replica takes over within seconds.

``LocalSentinel``: a master, its replica and 3 Sentinels (``redis-server <conf> --sentinel``)
with a short ``down-after-milliseconds``.

Both kill with SIGKILL on request and stop every process they started on ``close()``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.feature_store.redis_server import redis_server_binary

SLOTS = 16_384
MASTER_NAME = "recsys"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10_000 < 65_536 and _port_free(port + 10_000):
            return port


def cluster_ports(n: int) -> list[int]:
    """``n`` distinct free ports, none of them another's cluster bus port: picked one at a
    time before any node binds, the OS can hand the same free port out twice, and a second
    node on it would fail to start while the first answered its pings (a cluster "joined"
    with one master twice: "Node config epoch is already non-zero")."""
    ports: list[int] = []
    taken: set[int] = set()
    while len(ports) < n:
        port = cluster_port()
        if port in taken or port + 10_000 in taken:
            continue
        ports.append(port)
        taken.update((port, port + 10_000))
    return ports


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def quick_client(port: int) -> redis.Redis:
    return redis.Redis(
        port=port, socket_timeout=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


class Node:
    """One redis-server process (a cluster node, a plain server or a Sentinel)."""

    def __init__(self, directory: Path, port: int, args: list[str]) -> None:
        self.directory = directory
        self.port = port
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis_server_binary(), *self.args],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        process = self.process

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(
                    f"redis-server for port {self.port} exited with {process.returncode}"
                )
            pid = int(quick_client(self.port).info("server")["process_id"])
            if pid != process.pid:  # it cannot bind: another server holds the port
                raise RuntimeError(
                    f"redis-server for port {self.port}: the port is another server's (pid {pid})"
                )
            return True

        wait_for(answers, f"redis on {self.port}", 30)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save, as a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the process hangs (its sockets stay open), as a stalled host."""
        assert self.process is not None, "the node is not running"
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()  # a paused process would not act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    @property
    def client(self) -> redis.Redis:
        return quick_client(self.port)


def _replicate(replica: Node, master_id: bytes) -> bool:
    return bool(replica.client.execute_command("CLUSTER", "REPLICATE", master_id))


def _server_args(port: int) -> list[str]:
    return [
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--loglevel", "warning",
    ]  # fmt: skip


class LocalCluster:
    """3 masters, each with one replica; ``url`` is the ``redis+cluster://`` REDIS_URL."""

    def __init__(self, masters: int = 3, replicas_per_master: int = 1) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="recsys-cluster-"))
        self.n_masters = masters
        self.nodes: list[Node] = []
        for n, port in enumerate(cluster_ports(masters * (1 + replicas_per_master))):
            args = [
                *_server_args(port),
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "1000",
                "--cluster-replica-validity-factor", "0",
            ]  # fmt: skip
            self.nodes.append(Node(self.directory / f"node-{n}", port, args))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> LocalCluster:
        try:
            for node in self.nodes:
                node.start()
            self._join()
        except BaseException:
            self.close()
            raise
        return self

    def _join(self) -> None:
        masters, replicas = self.nodes[: self.n_masters], self.nodes[self.n_masters :]
        bounds = [SLOTS * k // self.n_masters for k in range(self.n_masters + 1)]
        for k, node in enumerate(masters):
            node.client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", k + 1)
            node.client.execute_command("CLUSTER", "ADDSLOTS", *range(bounds[k], bounds[k + 1]))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            first.client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        wait_for(self._all_known, "the nodes to meet")
        for master, replica in zip(masters, replicas, strict=False):
            master_id = master.client.execute_command("CLUSTER", "MYID")
            wait_for(partial(_replicate, replica, master_id), "a replica to attach")
        wait_for(self.healthy, "the cluster to be ok with its replicas in sync")

    def _all_known(self) -> bool:
        return all(
            len(n.client.execute_command("CLUSTER", "NODES").decode().strip().splitlines())
            == len(self.nodes)
            for n in self.nodes
        )

    def healthy(self) -> bool:
        """Every live node says ``cluster_state:ok``; every live replica's link is up."""
        for node in self.live_nodes():
            info = node.client.execute_command("CLUSTER", "INFO").decode()
            if "cluster_state:ok" not in info:
                return False
            replication = node.client.info("replication")
            if replication["role"] == "slave" and replication["master_link_status"] != "up":
                return False
        return True

    def live_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None]

    def master_of(self, slot: int) -> Node:
        """The live node serving ``slot`` now."""
        for node in self.live_nodes():
            for start, end, (_, port, *_rest), *_ in node.client.execute_command(
                "CLUSTER", "SLOTS"
            ):
                if start <= slot <= end:
                    return next(n for n in self.nodes if n.port == int(port))
        raise LookupError(f"no node serves slot {slot}")

    def replica_of(self, master: Node) -> Node:
        """The live node that replicates ``master``."""
        info = master.client.info("replication")
        ports = {int(v["port"]) for k, v in info.items() if k.startswith("slave")}
        return next(n for n in self.live_nodes() if n.port in ports)

    def restart(self, node: Node) -> None:
        """Start a killed node again with its config: it rejoins (as a replica)."""
        node.start()

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class LocalSentinel:
    """A master, one replica and 3 Sentinels; ``url`` is the ``redis+sentinel://`` REDIS_URL."""

    def __init__(self, sentinels: int = 3) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="recsys-sentinel-"))
        master_port, replica_port, *sentinel_ports = cluster_ports(2 + sentinels)
        self.master = Node(self.directory / "master", master_port, _server_args(master_port))
        self.replica = Node(
            self.directory / "replica",
            replica_port,
            [*_server_args(replica_port), "--replicaof", "127.0.0.1", str(master_port)],
        )
        self.sentinels: list[Node] = []
        for n, port in enumerate(sentinel_ports):
            folder = self.directory / f"sentinel-{n}"
            folder.mkdir(parents=True)
            (folder / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\nloglevel warning\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 5000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            args = [str(folder / "sentinel.conf"), "--sentinel"]
            self.sentinels.append(Node(folder, port, args))

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}"

    @property
    def servers(self) -> list[Node]:
        return [self.master, self.replica]

    def start(self) -> LocalSentinel:
        try:
            self.master.start()
            self.replica.start()
            for sentinel in self.sentinels:
                sentinel.start()
            wait_for(self._watching, "the Sentinels to see the master, its replica and each other")
        except BaseException:
            self.close()
            raise
        return self

    def _watching(self) -> bool:
        for sentinel in self.sentinels:
            state = sentinel.client.sentinel_master(MASTER_NAME)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return self.replica.client.info("replication")["master_link_status"] == "up"

    def current_master_port(self) -> int:
        _, port = self.sentinels[0].client.sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def close(self) -> None:
        for node in [*self.sentinels, self.master, self.replica]:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
