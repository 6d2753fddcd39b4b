"""The docs' kcat example, run as written (Debian's kcat: librdkafka, like most
non-Java upstream clients), against the session's Apache Kafka: the message is
delivered to the citizen's inbox."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from schemas.topics import Topic
from tests.factories import create_profile, create_service
from tests.integration.deliver_helpers import rows
from tests.integration.helpers import drain
from worker.bootstrap import Runtime

pytestmark = pytest.mark.usefixtures("apache_kafka")

#: The example of the docs ("Upstream producers"): key and value separated by `|`.
CITIZEN = "RSSMRA80A01H501U"
EXAMPLE = {
    "sender_service_id": "demo-service",
    "fiscal_code": CITIZEN,
    "content": {
        "subject": "Avviso di pagamento TARI",
        "markdown": "Gentile cittadino, la informiamo che e disponibile un nuovo documento"
        " nella sua area personale del portale.",
    },
}


def kcat() -> str:
    found = shutil.which("kcat")
    if found is None:
        raise RuntimeError("kcat is not installed: run `make kcat` (apt-get install kcat)")
    return found


async def test_the_docs_kcat_example_is_delivered(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    line = f"{CITIZEN}|{json.dumps({**EXAMPLE, 'sender_service_id': service_id})}\n"
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    process = await asyncio.create_subprocess_exec(
        kcat(), "-P", "-b", runtime.bootstrap, "-t", topic, "-K", "|",
        stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, errors = await asyncio.wait_for(process.communicate(line.encode()), 60)
    assert process.returncode == 0, errors.decode()

    assert await drain(runtime) == 1
    [row] = (await rows(runtime)).values()
    assert row["status"] == "PROCESSED"
