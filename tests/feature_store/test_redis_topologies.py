"""The test topologies' own start-up: distinct ports, and a node that cannot bind says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.feature_store.redis_topologies import Node, _server_args, cluster_ports


def test_cluster_ports_are_distinct_and_clear_of_each_others_bus_ports() -> None:
    ports = cluster_ports(12)
    assert len(set(ports)) == 12
    assert not {p + 10_000 for p in ports} & set(ports)


def test_a_node_whose_port_is_taken_fails_instead_of_trusting_the_other_server(
    tmp_path: Path,
) -> None:
    (port,) = cluster_ports(1)
    first = Node(tmp_path / "first", port, _server_args(port)).start()
    try:
        with pytest.raises(RuntimeError, match=f"redis-server for port {port}"):
            Node(tmp_path / "second", port, _server_args(port)).start()
    finally:
        first.stop()
