"""A three-node Apache Kafka cluster on this machine: `KafkaBroker` nodes sharing one
KRaft controller quorum, each node both broker and controller.

Why combined nodes: on one machine a separate controller quorum would be three more
JVMs for no more truth about Postino (the clients never talk to controllers), and a
combined node is the harder fault: killing one takes a broker and a voter at once, and
killing the node of the active controller forces a controller election and a leader
election together. Three voters keep a majority with one node down.

Every node has three listeners, each with a *back* port (where the JVM listens) and a
*front* port (where the others and the clients are told to connect):

- `PLAINTEXT`: clients (advertised at its front port);
- `REPLICATION`: the inter-broker listener (replica fetches; advertised at its front);
- `CONTROLLER`: the quorum (`controller.quorum.voters` lists the front ports).

`fronted=False`: front = back, nothing in between. `fronted=True`: the front ports are
free ports for something else to listen on and forward to the back ports (the
cluster chaos suite puts a fault-injecting proxy on each), so that every byte between
nodes and between Postino and a node can be cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from devkit.kafka import CLIENT_LISTENER, CONTROLLER_LISTENER, KafkaBroker, new_cluster_id
from devkit.process import free_port

__all__ = ["CLUSTER_PROPERTIES", "REPLICATION_LISTENER", "ClusterNode", "KafkaCluster"]

REPLICATION_LISTENER = "REPLICATION"
#: Per-node heap: three JVMs share the machine with Postino's roles.
CLUSTER_HEAP_MB = 384
#: What a replicated cluster sets beyond a single node: every internal topic on three
#: replicas with two in sync (a node may be down), unclean leader election off (a
#: replica out of sync never becomes leader: it could lose acknowledged records), and a
#: quick controller election. `replica.lag.time.max.ms` stays Kafka's 30 s: at 10 s, a
#: follower starved of CPU on a busy machine left the ISR while another node was being
#: restarted, and every acks=all write failed on `min.insync.replicas` for minutes.
CLUSTER_PROPERTIES = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "unclean.leader.election.enable": "false",
    "controller.quorum.fetch.timeout.ms": "2000",
    "controller.quorum.election.timeout.ms": "1000",
}
#: Threads that start nodes side by side and then stay: a node dies with the *thread*
#: that started it (the launcher's parent-death signal), so they must outlive it.
_SPAWNERS = ThreadPoolExecutor(3, thread_name_prefix="kafka-cluster-start")


@dataclass(frozen=True, slots=True)
class Ports:
    """One listener's back port (the JVM) and front port (advertised, proxied)."""

    back: int
    front: int


class ClusterNode(KafkaBroker):
    """A `KafkaBroker` whose listeners are advertised at front ports and whose
    replication runs on a listener of its own."""

    def __init__(
        self,
        data_dir: Path,
        *,
        node_id: int,
        cluster_id: str,
        listeners: Mapping[str, Ports],
        voters: Mapping[int, int],
        extra_properties: Mapping[str, str],
        heap_mb: int,
    ) -> None:
        super().__init__(
            data_dir,
            port=listeners[CLIENT_LISTENER].back,
            advertised_port=listeners[CLIENT_LISTENER].front,
            listeners={REPLICATION_LISTENER: "PLAINTEXT"},
            extra_properties=extra_properties,
            node_id=node_id,
            cluster_id=cluster_id,
            quorum=voters,
            heap_mb=heap_mb,
        )
        self.listener_ports = dict(listeners)
        self.ports = {name: p.back for name, p in listeners.items()}

    def properties(self) -> dict[str, str]:
        ports = self.listener_ports
        brokers = (CLIENT_LISTENER, REPLICATION_LISTENER)
        return super().properties() | {
            "inter.broker.listener.name": REPLICATION_LISTENER,
            "listeners": ",".join(f"{n}://127.0.0.1:{p.back}" for n, p in ports.items()),
            "advertised.listeners": ",".join(f"{n}://127.0.0.1:{ports[n].front}" for n in brokers),
            **self.extra_properties,
        }

    def quorum_state(self) -> tuple[int, int] | None:
        """(leader id, epoch) of the controller quorum as this node last knew it (its
        `quorum-state` file), None before it knew one."""
        path = self.log_dirs / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        leader, epoch = int(state.get("leaderId", -1)), int(state.get("leaderEpoch", -1))
        return (leader, epoch) if leader >= 0 else None


class KafkaCluster:
    """`size` combined broker+controller nodes (ids 1..size) sharing one quorum; the
    data of node n under `data_dir/kafka/node-n`, reused by a restart."""

    def __init__(
        self,
        data_dir: Path,
        size: int = 3,
        *,
        fronted: bool = False,
        extra_properties: Mapping[str, str] | None = None,
        heap_mb: int = CLUSTER_HEAP_MB,
    ) -> None:
        ids = range(1, size + 1)
        names = (CLIENT_LISTENER, REPLICATION_LISTENER, CONTROLLER_LISTENER)
        plan = {
            node: {
                name: Ports(back, free_port() if fronted else back)
                for name, back in ((n, free_port()) for n in names)
            }
            for node in ids
        }
        voters = {node: plan[node][CONTROLLER_LISTENER].front for node in ids}
        cluster_id = new_cluster_id()
        props = CLUSTER_PROPERTIES | dict(extra_properties or {})
        #: Node n is `nodes[n - 1]` (`node(n)`).
        self.nodes = [
            ClusterNode(
                data_dir,
                node_id=node,
                cluster_id=cluster_id,
                listeners=plan[node],
                voters=voters,
                extra_properties=props,
                heap_mb=heap_mb,
            )
            for node in ids
        ]

    def node(self, node_id: int) -> ClusterNode:
        return self.nodes[node_id - 1]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def fetch_max_wait_ms(self) -> int | None:
        return None

    @property
    def pid(self) -> int | None:
        """The first live node's process id (the `Broker` protocol; see `pids`)."""
        return next((p for p in self.pids().values() if p is not None), None)

    def pids(self) -> dict[int, int | None]:
        return {node.node_id: node.pid for node in self.nodes}

    def routes(self) -> list[tuple[int, str, Ports]]:
        """(node id, listener, ports) of every listener: what a proxy should forward."""
        return [
            (node.node_id, name, ports)
            for node in self.nodes
            for name, ports in node.listener_ports.items()
        ]

    def start(self) -> str:
        """Format and start every node at once, then wait for each (a node is ready only
        once a majority of the quorum is up)."""
        list(_SPAWNERS.map(lambda node: node.start(wait=False), self.nodes))
        try:
            for node in self.nodes:
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def stop(self) -> None:
        """Every node at once: stopped one by one, the last would wait for a quorum
        that is gone (its controlled shutdown hangs until the grace runs out)."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def active_controller(self) -> int | None:
        """The node id of the active controller: the newest epoch any node recorded."""
        states = [s for node in self.nodes if (s := node.quorum_state()) is not None]
        return max(states, key=lambda s: s[1])[0] if states else None

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
