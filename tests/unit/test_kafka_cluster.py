"""A fronted cluster's nodes listen on back ports and advertise front ports, so that a
proxy on each front port sees every byte between nodes and from clients."""

from __future__ import annotations

import json
from pathlib import Path

from devkit.kafka_cluster import REPLICATION_LISTENER, KafkaCluster


def test_a_fronted_node_listens_on_back_ports_and_advertises_front_ports(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, fronted=True)
    node = cluster.node(2)
    props = node.properties()
    ports = node.listener_ports
    assert props["inter.broker.listener.name"] == REPLICATION_LISTENER
    assert f"PLAINTEXT://127.0.0.1:{ports['PLAINTEXT'].back}" in props["listeners"]
    assert f"CONTROLLER://127.0.0.1:{ports['CONTROLLER'].back}" in props["listeners"]
    assert props["advertised.listeners"] == (
        f"PLAINTEXT://127.0.0.1:{ports['PLAINTEXT'].front},"
        f"REPLICATION://127.0.0.1:{ports['REPLICATION'].front}"
    )
    voters = {
        f"{n.node_id}@127.0.0.1:{n.listener_ports['CONTROLLER'].front}" for n in cluster.nodes
    }
    assert set(props["controller.quorum.voters"].split(",")) == voters
    assert all(p.front != p.back for p in ports.values())
    assert len(cluster.routes()) == 9


def test_an_unfronted_node_advertises_where_it_listens(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path)
    assert all(ports.front == ports.back for _, _, ports in cluster.routes())
    assert cluster.bootstrap.count(",") == 2


def test_the_active_controller_is_the_newest_epoch_any_node_recorded(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path)
    assert cluster.active_controller() is None
    for node, (leader, epoch) in zip(cluster.nodes, [(1, 3), (2, 4), (1, 3)], strict=True):
        folder = node.log_dirs / "__cluster_metadata-0"
        folder.mkdir(parents=True)
        state = {"leaderId": leader, "leaderEpoch": epoch, "votedId": -1}
        (folder / "quorum-state").write_text(json.dumps(state))
    assert cluster.active_controller() == 2
