"""The embedded Apache Kafka's configuration, and the choice between it and Tansu,
without starting a JVM (tests/integration/test_embedded_kafka.py starts one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit import brokers, kafka_dist
from devkit.kafka import KafkaBroker, new_cluster_id
from devkit.kafka_cluster import KafkaCluster


def test_one_node_is_broker_and_controller_of_its_own_quorum(tmp_path: Path) -> None:
    node = KafkaBroker(tmp_path)
    props = node.properties()
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{node.ports['CONTROLLER']}"
    assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.port}"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "node-1" / "logs")
    assert node.bootstrap == f"127.0.0.1:{node.port}"
    assert node.fetch_max_wait_ms is None


def test_extra_listeners_get_their_own_ports_and_protocols(tmp_path: Path) -> None:
    node = KafkaBroker(
        tmp_path,
        listeners={"SASL_SSL": "SASL_SSL", "MTLS": "SSL"},
        extra_properties={"sasl.enabled.mechanisms": "SCRAM-SHA-512", "num.io.threads": "2"},
    )
    props = node.properties()
    assert len(set(node.ports.values())) == 4
    assert f"MTLS://127.0.0.1:{node.ports['MTLS']}" in props["listeners"]
    assert "CONTROLLER" not in props["advertised.listeners"]
    assert "SASL_SSL:SASL_SSL" in props["listener.security.protocol.map"]
    assert node.bootstrap_for("MTLS") == f"127.0.0.1:{node.ports['MTLS']}"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["num.io.threads"] == "2"  # the caller's properties win


def test_nodes_of_a_cluster_share_the_quorum_and_the_cluster_id(tmp_path: Path) -> None:
    quorum = {1: 19093, 2: 19094, 3: 19095}
    cluster = new_cluster_id()
    nodes = [KafkaBroker(tmp_path, node_id=n, quorum=quorum, cluster_id=cluster) for n in quorum]
    voters = {node.properties()["controller.quorum.voters"] for node in nodes}
    assert voters == {"1@127.0.0.1:19093,2@127.0.0.1:19094,3@127.0.0.1:19095"}
    assert [node.ports["CONTROLLER"] for node in nodes] == [19093, 19094, 19095]
    assert len({node.home for node in nodes}) == 3
    assert {node.properties()["offsets.topic.replication.factor"] for node in nodes} == {"3"}
    assert {node.cluster_id for node in nodes} == {cluster}


def test_a_restart_keeps_the_cluster_id_it_was_formatted_with(tmp_path: Path) -> None:
    logs = tmp_path / "kafka" / "node-1" / "logs"
    logs.mkdir(parents=True)
    (logs / "meta.properties").write_text("version=1\ncluster.id=abcDEF123\nnode.id=1\n")
    assert KafkaBroker(tmp_path).cluster_id == "abcDEF123"


def test_a_new_cluster_id_never_starts_with_a_dash() -> None:
    """Kafka's storage tool would read such an id as an option (1 random id in 64)."""
    draws = iter([b"\xfb" + bytes(15), b"\x00" * 16])  # base64 of 0xfb starts with "-"
    assert new_cluster_id(lambda: next(draws)) == "AAAAAAAAAAAAAAAAAAAAAA"
    assert all(not new_cluster_id().startswith("-") for _ in range(500))


def test_without_java_auto_is_tansu_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_dist.shutil, "which", lambda name: None)
    reason = kafka_dist.java_available()
    assert reason is not None
    assert "no `java` on PATH" in reason
    choice = brokers.choose("auto")
    assert choice.kind == "memory"
    assert choice.kafka_skipped == reason
    assert brokers.choose("kafka").kind == "kafka"  # asked for: fails at start, not here


def test_fetching_without_java_fails_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POSTINO_KAFKA_CACHE", str(tmp_path))
    monkeypatch.setattr(kafka_dist.shutil, "which", lambda name: None)
    with pytest.raises(kafka_dist.KafkaUnavailableError, match="needs Java 17"):
        kafka_dist.ensure_jars()


def test_the_pinned_version_is_a_4x_and_cached_outside_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert kafka_dist.kafka_version().startswith("4.")
    monkeypatch.delenv("POSTINO_KAFKA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    version = kafka_dist.kafka_version()
    assert kafka_dist.libs_dir() == tmp_path / "postino" / f"kafka-{version}" / "libs"


def test_unknown_broker_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="broker kind"):
        brokers.choose("redpanda")


def test_a_cluster_is_nodes_sharing_one_quorum_and_cluster_id(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, size=3, extra_properties={"min.insync.replicas": "2"})
    props = [node.properties() for node in cluster.nodes]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert len({p["controller.quorum.voters"] for p in props}) == 1
    assert len({node.cluster_id for node in cluster.nodes}) == 1
    assert {p["min.insync.replicas"] for p in props} == {"2"}
    assert cluster.bootstrap == ",".join(node.bootstrap for node in cluster.nodes)
