"""Record batches a consumer cannot decode, found on the wire so that they can be skipped.

aiokafka decompresses and parses a fetched record batch while it hands out the batch's
records. A batch it cannot decode (a codec it lacks, a corrupt payload, a bad CRC)
raises out of `getmany` without naming its partition, and the consumer's position stays
before the batch: every later poll raises again, and no record of it can reach a DLQ.

`probe` re-reads partitions from given offsets with one plain fetch request per broker
and decodes each batch itself. For a partition holding an undecodable batch it returns
the records before that batch (decoded as aiokafka would: control batches skipped,
records before the start offset dropped) and the batch's offsets and error, so that the
caller can process the former, dead-letter the latter and move past it.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

from worker.core.records import Record

#: Kafka's record batch codec ids (the low three bits of the batch attributes).
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
#: One partition's share of a probe (the consumer's own `max_partition_fetch_bytes`).
PARTITION_BYTES = 1024 * 1024
_READ_UNCOMMITTED = 0
#: The probe's fetch wait: a broker answers as soon as it has a byte (min bytes 1); the
#: in-memory embedded broker answers a fetch with no wait at all with nothing.
_PROBE_WAIT_MS = 100


@dataclass(frozen=True, slots=True)
class BadBatch:
    """A record batch no record of which can be decoded."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    codec: str
    error: str


@dataclass(slots=True)
class Probed:
    """One partition read from a start offset up to its first undecodable batch."""

    tp: TopicPartition
    good: list[Record] = field(default_factory=list)
    bad: BadBatch | None = None


def undecodable(exc: BaseException) -> bool:
    """Whether `getmany` raised this for a record batch it could not decode (then
    `probe` says which), rather than for the broker or the connection."""
    if isinstance(exc, UnsupportedCodecError | CorruptRecordException):
        return True
    if isinstance(exc, KafkaError):
        return False
    # A codec's own error (cramjam's DecompressionError, zlib's, gzip's) or a batch
    # whose framing does not parse.
    return isinstance(exc, ValueError | EOFError | OSError | struct.error | IndexError) or (
        type(exc).__module__.split(".")[0] == "cramjam"
    )


async def probe(
    consumer: AIOKafkaConsumer,
    starts: Mapping[TopicPartition, int],
    partition_bytes: int = PARTITION_BYTES,
) -> list[Probed]:
    """The partitions among `starts` (partition -> offset to read from) that hold an
    undecodable batch within `partition_bytes` of their start offset."""
    client: Any = consumer._client
    by_node: dict[int, dict[str, list[tuple[int, int, int]]]] = defaultdict(lambda: {})
    for tp, offset in starts.items():
        node = client.cluster.leader_for_partition(tp)
        if node is not None and node >= 0:
            by_node[node].setdefault(tp.topic, []).append((tp.partition, offset, partition_bytes))
    found: list[Probed] = []
    for node, topics in by_node.items():
        request = FetchRequest(
            _PROBE_WAIT_MS, 1, 64 * partition_bytes, _READ_UNCOMMITTED, list(topics.items())
        )
        response = await client.send(node, request)
        for topic, partitions in response.topics:
            for partition, error_code, _highwater, *data in partitions:
                tp = TopicPartition(topic, partition)
                if error_code == 0 and tp in starts:
                    probed = scan(tp, MemoryRecords(bytes(data[-1] or b"")), starts[tp])
                    if probed.bad is not None:
                        found.append(probed)
    return found


def scan(tp: TopicPartition, records: Any, start: int) -> Probed:
    """The records from `start` up to the first batch that does not decode."""
    probed = Probed(tp)
    while records.has_next():
        batch = records.next_batch()
        if batch is None:
            break  # a partial batch at the end of the response: fetched next time
        try:
            if not batch.validate_crc():
                raise CorruptRecordException("record batch CRC mismatch")
            decoded = [] if batch.is_control_batch else [r for r in batch if r.offset >= start]
        except Exception as exc:
            probed.bad = _bad(tp, batch, exc)
            return probed
        probed.good += [_record(tp, r) for r in decoded]
    return probed


def _bad(tp: TopicPartition, batch: Any, exc: Exception) -> BadBatch:
    codec = CODECS.get(batch.compression_type, f"codec {batch.compression_type}")
    text, name = str(exc)[:300], type(exc).__name__
    detail = text if text.startswith(name) else f"{name}: {text}"
    return BadBatch(tp.topic, tp.partition, batch.base_offset, batch.next_offset - 1, codec, detail)


def _record(tp: TopicPartition, raw: Any) -> Record:
    headers = tuple((k, bytes(v) if v is not None else b"") for k, v in raw.headers)
    return Record(tp.topic, tp.partition, raw.offset, raw.key, raw.value, raw.timestamp, headers)
