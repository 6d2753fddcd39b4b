"""Text that looks like something else is refused where it comes in (docs/integrators/sending.md).

- Single-line fields (a subject, a name, a property name) refuse DEL, bidi controls
  (U+202A-U+202E, U+2066-U+2069), zero-width and other format characters (Unicode
  category Cf) and the line and paragraph separators U+2028/U+2029; `markdown`, a
  multi-line field, keeps format characters (an emoji sequence joins with U+200D).
- The personal-data check reads the subject as a person sees it: an invisible mark
  inside a fiscal code, or full-width letters, do not hide it.
- An e-mail the mail library refuses to build (`ValueError`) fails its channel at
  once: trying again builds the same refusal.
- Query parameters and path segments follow the same text rules as bodies: a NUL
  in a filter is a 400, not a 500 from PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from devkit.sinks import DevSinks
from schemas.enums import Channel
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import MARKDOWN, create_profile, create_service, message_body
from tests.integration.deliver_helpers import citizen
from tests.integration.helpers import ADMIN, drain, read_topic
from tests.integration.notify_helpers import (
    CITIZEN,
    publish_requests,
    request,
    running,
    seed_message,
    with_settings,
)
from tests.integration.sender_helpers import key
from tests.integration.test_deliver_upstream import body, encoded, header, produce
from worker.bootstrap import Runtime, notify_channels
from worker.ingress.app import reload_services
from worker.roles import notify

SUBJECT = "Avviso di pagamento TARI"
LOOKALIKES = {
    "DEL": "\x7f",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
}


async def _sender(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    _, api_key = await create_service(runtime)
    await reload_services(client.app)
    return key(api_key)


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
async def test_a_subject_with_an_invisible_or_control_character_is_refused(
    runtime: Runtime, client: TestClient[Any, Any], name: str
) -> None:
    headers = await _sender(runtime, client)
    subject = SUBJECT[:8] + LOOKALIKES[name] + SUBJECT[8:]
    resp = await client.post(
        "/api/v1/messages", json=message_body(CITIZEN, subject=subject), headers=headers
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"].startswith("content.subject:")


async def test_markdown_keeps_format_characters(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    body_ = message_body(CITIZEN, markdown=f"{MARKDOWN}\n\nLa famiglia {family} ringrazia.")
    resp = await client.post("/api/v1/messages", json=body_, headers=headers)
    assert resp.status == 201, await resp.text()


async def test_a_service_name_with_a_bidi_override_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/manage/services",
        json={
            "name": "Tributi \u202eilanumoc",
            "organization_name": "Comune di Prova",
            "organization_fiscal_code": "12345678901",
        },
        headers=ADMIN,
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"].startswith("name:")


async def test_an_upstream_record_with_a_lookalike_subject_goes_to_the_dlq(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    subject = "Avviso di \u202epagamento"
    await produce(runtime, encoded(body(service_id, citizen(1), content={"subject": subject})))

    await drain(runtime)

    [dead] = await read_topic(runtime, Topic.SUBMITTED.dlq())
    assert header(dead, "postino-error-code") == "format_character"


@pytest.mark.parametrize(
    "hidden",
    [
        "RSSMRA80A01\u034fH501U",  # combining grapheme joiner (an invisible mark)
        "RSSMRA80A01\u3164H501U",  # hangul filler (invisible, a letter to Unicode)
        "\uff32\uff33\uff33\uff2d\uff32\uff21\uff18\uff10\uff21\uff10\uff11"
        "\uff28\uff15\uff10\uff11\uff35",  # full width
    ],
)
async def test_a_fiscal_code_hidden_in_the_subject_is_still_found(
    runtime: Runtime, client: TestClient[Any, Any], hidden: str
) -> None:
    headers = await _sender(runtime, client)
    resp = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN, subject=f"Avviso per {hidden}"),
        headers=headers,
    )
    assert resp.status == 400, await resp.text()
    assert "fiscal code" in (await resp.json())["detail"]


@pytest.fixture
async def sinks(runtime: Runtime, tmp_path: Path) -> AsyncIterator[DevSinks]:
    sinks = DevSinks(tmp_path)
    smtp_url, _ = await sinks.start()
    sinks.smtp_url = smtp_url  # type: ignore[attr-defined]
    try:
        yield sinks
    finally:
        await sinks.stop()


async def test_an_email_the_mail_library_refuses_fails_at_once(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id, _ = await create_service(runtime)
    # stored before addresses were checked: a header injection attempt
    await create_profile(
        runtime, CITIZEN, email="mario@example.org\nBcc: all@example.org", email_validated=True
    )
    await seed_message(runtime, service_id, "01JMAIL0000000000000000001")
    rt = with_settings(
        runtime,
        "notify",
        smtp_url=sinks.smtp_url,  # type: ignore[attr-defined]
        retry_delays=(0.2, 0.3),
        call_attempts=1,
    )
    await publish_requests(rt, request("01JMAIL0000000000000000001", service_id, Channel.EMAIL))

    async def status() -> tuple[str, int] | None:
        row = await runtime.pool.fetchrow("SELECT status, attempts FROM notifications")
        return None if row is None else (row["status"], row["attempts"])

    async with notify_channels(rt.settings.notify) as channels, running(notify.build(rt, channels)):
        found = await eventually(status, lambda s: s is not None and s[0] != "THROTTLED")
    assert found == ("FAILED", 1)
    assert list(sinks.mail_dir.glob("*.eml")) == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/manage/services?state=%00",
        "/api/v1/manage/services?organization_fiscal_code=%00",
        "/api/v1/manage/services?cursor=%00",
        "/api/v1/manage/services/svc%00x",
        "/api/v1/manage/services?state=%E2%80%AEdraft",
    ],
)
async def test_a_control_character_in_the_query_or_path_is_a_400(
    client: TestClient[Any, Any], path: str
) -> None:
    resp = await client.get(path, headers=ADMIN)
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert json.loads(await resp.text())["status"] == 400
