"""Several embedded Apache Kafka nodes as one cluster: each a `KafkaBroker` (broker and
controller) with its own node id, ports and log dirs, all sharing one cluster id and
one controller quorum, so replication, `min.insync.replicas` and a node's loss can be
tested on one machine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from devkit.kafka import DEFAULT_HEAP_MB, KafkaBroker, new_cluster_id
from devkit.process import free_port


class KafkaCluster:
    """`size` nodes (ids 1..size); `options` go to every node's `KafkaBroker`
    (listeners, extra_properties, scram_users...)."""

    def __init__(
        self,
        data_dir: Path,
        size: int = 3,
        heap_mb: int = DEFAULT_HEAP_MB // 2,
        extra_properties: Mapping[str, str] | None = None,
        **options: object,
    ) -> None:
        cluster_id = new_cluster_id()
        quorum = {node: free_port() for node in range(1, size + 1)}
        self.nodes = [
            KafkaBroker(
                data_dir,
                node_id=node,
                quorum=quorum,
                cluster_id=cluster_id,
                heap_mb=heap_mb,
                extra_properties=extra_properties,
                **options,  # type: ignore[arg-type]
            )
            for node in quorum
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self) -> str:
        """Start every node, then wait for each (a quorum needs a majority up)."""
        try:
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
