"""The soak's short variant, part of `make test` where Java runs Apache Kafka: one
minute of the full pipeline at a low rate, judged as `make soak` judges an hour."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.kafka_dist import java_available
from tests.soak.main import soak

NO_JAVA = java_available()


@pytest.mark.chaos_short
@pytest.mark.timeout(600)
@pytest.mark.skipif(NO_JAVA is not None, reason=f"the soak runs on Apache Kafka: {NO_JAVA}")
async def test_a_minute_of_steady_traffic_grows_no_process_and_loses_nothing(
    tmp_path: Path,
) -> None:
    found = await soak(rate=20.0, minutes=1.0, warmup=20.0, out=tmp_path)
    failed = [f"{c.name}: {c.detail}" for c in found if not c.ok]
    assert not failed, failed
    assert (tmp_path / "soak.json").exists()
    assert (tmp_path / "rss.png").exists()
