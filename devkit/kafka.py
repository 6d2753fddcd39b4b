"""Apache Kafka as an embedded broker: one KRaft node (broker and controller in one JVM)
on free loopback ports, its log dirs under a data dir that a restart reuses.

`KafkaBroker(data_dir)` alone is a one-node cluster. Extra listeners (SASL_SSL, mTLS),
server properties and SCRAM users created at format time are constructor arguments,
and so are the node id, the cluster id and the controller quorum, so that several
nodes sharing one quorum make a cluster. The jars come from `devkit.kafka_dist`.
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from devkit.kafka_dist import KafkaUnavailableError, ensure_jars, java_available, kafka_version
from devkit.kafka_probe import group_coordinator_ready, metadata_brokers
from devkit.process import ChildProcess, free_port
from worker import logs

__all__ = ["KafkaBroker", "KafkaUnavailableError", "java_available", "kafka_version"]

log = logs.get("postino.embedded")

#: The listener clients (and the ready probe) use; always PLAINTEXT.
CLIENT_LISTENER = "PLAINTEXT"
CONTROLLER_LISTENER = "CONTROLLER"
#: -Xmx of the broker's JVM. Idle with Postino's topics it holds ~60 MiB of live heap;
#: 512 MiB leaves room for the test suite's thousands of partitions and bench bursts.
DEFAULT_HEAP_MB = 512
#: How long a clean stop (SIGTERM: controlled shutdown, logs flushed) may take.
STOP_GRACE_SECONDS = 20.0
START_TIMEOUT_SECONDS = 90.0

#: A small single-machine node: fewer threads than Kafka's defaults (sized for servers
#: with many cores), no 3 s delay before a new group's first rebalance, internal topics
#: with few partitions (created on first use, each partition costs files and time),
#: and a 16 MiB log-cleaner buffer instead of 128 MiB of heap.
SMALL_NODE = {
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "4",
    "log.cleaner.threads": "1",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    "group.initial.rebalance.delay.ms": "0",
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.num.partitions": "4",
    # Retention is enforced within a second of a segment expiring (Kafka checks every
    # 5 min): a test of a topic's retention.ms sees the log start move, not a timeout.
    "log.retention.check.interval.ms": "1000",
}

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, never
    starting with `-` (as Kafka's own `Uuid.randomUuid` does): the storage tool would
    read such an id as an option ("--cluster-id: expected one argument"), 1 start in 64."""
    while True:
        found = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not found.startswith("-"):
            return found


class KafkaBroker:
    """One Apache Kafka KRaft node (roles broker and controller).

    - `listeners`: extra listener name -> security protocol (e.g. `{"SASL_SSL":
      "SASL_SSL", "MTLS": "SSL"}`), each on a free port (`ports[name]`,
      `bootstrap_for(name)`); PLAINTEXT (clients, the ready probe, replication) and
      CONTROLLER are always there.
    - `extra_properties`: server properties set last (they win over ours), e.g.
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config`.
    - `scram_users`: user -> password, created as SCRAM-SHA-512 credentials when the
      storage is formatted; `format_args`: more `kafka-storage format` arguments.
    - `node_id`, `cluster_id`, `quorum` (controller node id -> controller port, every
      node of a cluster given the same one, its own port among them): a cluster.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        advertised_port: int | None = None,
        listeners: Mapping[str, str] | None = None,
        extra_properties: Mapping[str, str] | None = None,
        scram_users: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        node_id: int = 1,
        cluster_id: str | None = None,
        quorum: Mapping[int, int] | None = None,
        heap_mb: int = DEFAULT_HEAP_MB,
        fixed_heap: bool = False,
    ) -> None:
        self.node_id = node_id
        self.home = data_dir / "kafka" / f"node-{node_id}"
        self.log_dirs = self.home / "logs"
        self.protocols = {CLIENT_LISTENER: "PLAINTEXT", **(listeners or {})}
        self.protocols[CONTROLLER_LISTENER] = "PLAINTEXT"
        self.ports = {name: free_port() for name in self.protocols}
        if port is not None:
            self.ports[CLIENT_LISTENER] = port
        self.quorum = dict(quorum or {node_id: self.ports[CONTROLLER_LISTENER]})
        self.ports[CONTROLLER_LISTENER] = self.quorum[node_id]
        #: Where clients are told to connect (a proxy in front of the broker, in tests).
        self.advertised_port = advertised_port or self.ports[CLIENT_LISTENER]
        self.extra_properties = dict(extra_properties or {})
        self.scram_users = dict(scram_users or {})
        self.format_args = list(format_args)
        self.cluster_id = cluster_id or _formatted_cluster_id(self.log_dirs) or new_cluster_id()
        self.heap_mb = heap_mb
        #: The heap taken whole at start (-Xms = -Xmx, as Kafka's own start script sets
        #: it, and touched up front), so the process's RSS no longer grows as the heap
        #: fills toward its cap: what the soak judges is then what grows outside it.
        self.fixed_heap = fixed_heap
        self._spawned = 0.0
        # Orphaned (its parent killed), it gets SIGKILL: its clean shutdown flushes every
        # partition and can outlast whoever would wait for it. The logs recover at start.
        log_path = self.home / "broker.log"
        self._process = ChildProcess(f"kafka-{node_id}", log_path, signal.SIGKILL)

    # -- what clients need -------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.ports[CLIENT_LISTENER]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    def bootstrap_for(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    @property
    def fetch_max_wait_ms(self) -> int | None:
        """Kafka wakes a waiting fetch when data arrives: its 500 ms default is right."""
        return None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def log_path(self) -> Path:
        return self._process.log_path

    # -- configuration -----------------------------------------------------------------

    def properties(self) -> dict[str, str]:
        """The server.properties this node starts with."""
        broker_listeners = [n for n in self.protocols if n != CONTROLLER_LISTENER]
        replicas = str(min(3, len(self.quorum)))
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": ",".join(
                f"{node}@127.0.0.1:{port}" for node, port in sorted(self.quorum.items())
            ),
            "controller.listener.names": CONTROLLER_LISTENER,
            "inter.broker.listener.name": CLIENT_LISTENER,
            "listeners": ",".join(f"{n}://127.0.0.1:{self.ports[n]}" for n in self.protocols),
            "advertised.listeners": ",".join(
                f"{n}://127.0.0.1:{self._advertised(n)}" for n in broker_listeners
            ),
            "listener.security.protocol.map": ",".join(
                f"{n}:{p}" for n, p in self.protocols.items()
            ),
            "log.dirs": str(self.log_dirs),
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": "1",
            **SMALL_NODE,
        }
        return props | self.extra_properties

    def _advertised(self, listener: str) -> int:
        return self.advertised_port if listener == CLIENT_LISTENER else self.ports[listener]

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        return path

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [
            java,
            f"-Xmx{self.heap_mb}m",
            *((f"-Xms{self.heap_mb}m", "-XX:+AlwaysPreTouch") if self.fixed_heap else ("-Xms64m",)),
            # One GC thread pauses a heap this size for milliseconds; G1's concurrent
            # threads would compete with the tests for the machine's cores.
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def _format(self, libs: Path, config: Path) -> None:
        """`kafka-storage format`, once: a restart finds meta.properties and reuses the logs."""
        if (self.log_dirs / "meta.properties").exists():
            return
        args = ["format", "--config", str(config), f"--cluster-id={self.cluster_id}"]
        for user, password in self.scram_users.items():
            args += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        argv = self._java(libs, "kafka.tools.StorageTool", *args, *self.format_args)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-2000:]
            raise RuntimeError(f"kafka-storage format failed: {output}")

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, wait: bool = True) -> str:
        """Format (first time), start the JVM and wait until it is ready (`wait_ready`);
        returns the bootstrap. `wait=False`: a cluster's nodes start together, then
        `wait_ready()` each."""
        libs = ensure_jars()
        config = self._write_config()
        self._format(libs, config)
        self._spawned = time.monotonic()
        self._process.spawn(self._java(libs, "kafka.Kafka", str(config)))
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self._process.stop(kill=True)
                raise
        return self.bootstrap

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until a Metadata request lists a broker and FindCoordinator answers."""
        deadline = time.monotonic() + timeout
        port = self.ports[CLIENT_LISTENER]
        while not (metadata_brokers(port) > 0 and group_coordinator_ready(port)):
            proc = self._process.proc
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"embedded Kafka exited: see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded Kafka not ready after {timeout:.0f} s: {self.log_path}"
                )
            time.sleep(0.1)
        log.info(
            "embedded_kafka_started",
            bootstrap=self.bootstrap,
            version=kafka_version(),
            node_id=self.node_id,
            seconds=round(time.monotonic() - self._spawned, 2),
            pid=self.pid,
        )

    def stop(self) -> None:
        """Idempotent: SIGTERM (a controlled shutdown), SIGKILL if it takes too long."""
        self._process.stop(grace=STOP_GRACE_SECONDS)

    def kill(self) -> None:
        """SIGKILL (crash tests); `start()` brings it back on the same ports and logs."""
        self._process.stop(kill=True)

    def restart(self) -> str:
        self.stop()
        return self.start()

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _formatted_cluster_id(log_dirs: Path) -> str | None:
    meta = log_dirs / "meta.properties"
    if not meta.exists():
        return None
    for line in meta.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None
