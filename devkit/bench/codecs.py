"""What each Kafka compression codec costs Postino's producers and consumers.

`python -m devkit.bench.codecs [records]`: builds record batches of `messages.submitted`
records (as the ingress writes them) with aiokafka's own batch builder, for each codec
and a few batch sizes (a poll batch spread over partitions gives each partition's batch
a few to a few hundred records), then reads them back as a consumer does. Prints CPU
microseconds per record to build (and compress) and to read (decompress and parse),
and bytes per record on the wire. No broker: the codec's cost is the subject.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from devkit.bench.workload import submitted_records
from worker.ids import IdSigner

#: Kafka's codec ids, in `POSTINO_KAFKA_COMPRESSION`'s words.
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BATCH_SIZES = (1, 16, 128)


def build(codec: int, records: Sequence[tuple[bytes, bytes]]) -> bytes:
    builder = DefaultRecordBatchBuilder(2, codec, False, -1, -1, -1, 1 << 24)
    for i, (key, value) in enumerate(records):
        builder.append(i, timestamp=None, key=key, value=value, headers=[])
    return bytes(builder.build())


def read(raw: bytes) -> int:
    count = 0
    records = MemoryRecords(raw)
    while records.has_next():
        for _ in records.next_batch():
            count += 1
    return count


def measure(codec: int, records: Sequence[tuple[bytes, bytes]], size: int) -> tuple[float, ...]:
    """(build us/record, read us/record, bytes/record) over all records in `size` batches."""
    chunks = [records[i : i + size] for i in range(0, len(records), size)]
    started = time.process_time()
    built = [build(codec, chunk) for chunk in chunks]
    build_us = (time.process_time() - started) * 1e6 / len(records)
    started = time.process_time()
    for raw in built:
        read(raw)
    read_us = (time.process_time() - started) * 1e6 / len(records)
    return build_us, read_us, sum(map(len, built)) / len(records)


def main(argv: Sequence[str]) -> None:
    count = int(argv[0]) if argv else 20_000
    records = submitted_records(count, 1000, IdSigner("codec-bench"))
    raw_bytes = sum(len(k) + len(v) for k, v in records) / count
    print(f"{count} messages.submitted records, {raw_bytes:.0f} bytes of key and value each")
    print(f"{'codec':8} {'batch':>5} {'build us/rec':>13} {'read us/rec':>12} {'bytes/rec':>10}")
    for name, codec in CODECS.items():
        for size in BATCH_SIZES:
            build_us, read_us, per_record = measure(codec, records, size)
            print(f"{name:8} {size:5} {build_us:13.1f} {read_us:12.1f} {per_record:10.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
