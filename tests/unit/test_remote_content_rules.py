"""The rules of docs/integrators/remote-content.md over a fake sender: what is shown, what is
fetched."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
import pytest

from worker.services import remote_content as rc

CONFIG = rc.RemoteConfig("https://sender.example.org/io/", "X-Key", "secret-secret-secret")
ANSWER = {
    "details": {"subject": "Referto", "markdown": "Il referto e' disponibile."},
    "attachments": [{"id": "1", "url": "attachments/a.pdf", "name": "a.pdf"}],
}


class FakeSender:
    def __init__(self, answer: Any = ANSWER) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, str]]] = []

    async def get_json(self, url: str, headers: Mapping[str, str]) -> bytes:
        self.asked.append((url, dict(headers)))
        return msgspec.json.encode(self.answer)

    def download(
        self, url: str, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[rc.Download]:
        self.asked.append((url, dict(headers)))
        return self._nothing()

    @asynccontextmanager
    async def _nothing(self) -> AsyncIterator[rc.Download]:
        raise AssertionError("not streamed in these tests")
        yield  # pragma: no cover


def message(advanced: bool = True, **data: Any) -> rc.ThirdPartyMessage:
    row = {
        "id": "m1",
        "fiscal_code": "RSSMRA80A01H501U",
        "sender_service_id": "svc",
        "feature_level_type": "ADVANCED" if advanced else "STANDARD",
        "content": {"third_party_data": {"id": "pratica/1", **data}},
    }
    found = rc.third_party_message(row)
    assert found is not None
    return found


async def test_the_sender_gets_the_recipient_and_the_key_and_an_escaped_id() -> None:
    sender = FakeSender()
    await rc.remote_message(sender, CONFIG, message(has_remote_content=True))
    assert sender.asked == [
        (
            "https://sender.example.org/io/messages/pratica%2F1",
            {"fiscal_code": "RSSMRA80A01H501U", "X-Key": "secret-secret-secret"},
        )
    ]


async def test_details_only_with_remote_content_attachments_only_when_advanced() -> None:
    both = await rc.remote_message(FakeSender(), CONFIG, message(has_remote_content=True))
    assert both.details is not None and both.attachments is None
    files = await rc.remote_message(FakeSender(), CONFIG, message(has_attachments=True))
    assert files.details is None and files.attachments is not None
    with pytest.raises(rc.NotFound):
        await rc.remote_message(FakeSender(), CONFIG, message(False, has_attachments=True))
    standard = message(False, has_remote_content=True, has_attachments=True)
    assert (await rc.remote_message(FakeSender(), CONFIG, standard)).attachments is None


async def test_a_malformed_answer_is_a_sender_failure() -> None:
    for answer in ({"details": {"subject": 1}}, [1, 2], {"attachments": "x"}):
        with pytest.raises(rc.SenderFailed):
            await rc.remote_message(FakeSender(answer), CONFIG, message(has_remote_content=True))
    with pytest.raises(rc.SenderFailed):  # details promised, none given
        await rc.remote_message(FakeSender({}), CONFIG, message(has_remote_content=True))


async def test_only_a_listed_attachment_below_the_message_is_fetched() -> None:
    sender = FakeSender()
    with pytest.raises(rc.NotFound):
        await rc.attachment(sender, CONFIG, message(has_attachments=True), "attachments/b.pdf")
    listed = {"id": "2", "url": "../../admin"}
    traversal = FakeSender({"attachments": [listed]})
    with pytest.raises(rc.SenderFailed):
        await rc.attachment(traversal, CONFIG, message(has_attachments=True), "../../admin")
    opened = await rc.attachment(sender, CONFIG, message(has_attachments=True), "attachments/a.pdf")
    assert opened is not None
    assert (
        sender.asked[-1][0]
        == "https://sender.example.org/io/messages/pratica%2F1/attachments/a.pdf"
    )


async def test_a_precondition_is_asked_only_when_the_message_has_one() -> None:
    for none in ({}, {"has_precondition": "NEVER"}):
        with pytest.raises(rc.NotFound):
            await rc.precondition(FakeSender(), CONFIG, message(**none))
    sender = FakeSender({"title": "Attenzione", "markdown": "Riservato."})
    got = await rc.precondition(sender, CONFIG, message(has_precondition="ONCE"))
    assert got.title == "Attenzione"
    assert sender.asked[-1][0].endswith("/messages/pratica%2F1/precondition")
