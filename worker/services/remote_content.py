"""Remote content and attachments (docs/integrators/remote-content.md): fetched from the sender
when the citizen opens a third-party message.

Postino calls `{base_url}/messages/{third_party_data.id}` (details and the list of
attachments), `…/precondition`, and `…/{attachment url}` with the header
`fiscal_code: <recipient>` and the service's configured key header. What the sender
answers is decoded into fixed shapes and everything else is dropped; its errors
never reach the citizen as they are: a 404 is `NotFound`, anything else (5xx,
timeout, unreachable, unsafe address, malformed or oversized answer, not a PDF) is
`SenderFailed` with a short reason, the label of the outcome metric.

Only the recipient's message reaches here (the caller looks it up by the session's
fiscal code). Details are returned only when `has_remote_content`; attachments only
when `has_attachments` and the message is ADVANCED, and an attachment is fetched only
when its url is among those the sender listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import msgspec

from schemas.enums import FeatureLevel, HasPrecondition
from schemas.messages import ThirdPartyData
from worker.core.text_rules import too_deep

S = TypeVar("S")
FISCAL_CODE_HEADER = "fiscal_code"
PDF = "application/pdf"


class NotFound(Exception):
    """Nothing to show: no third-party data, not this kind, or the sender said 404."""


class SenderFailed(Exception):
    """The sender could not give a usable answer; `reason` is a short metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """Where and how Postino calls a sender (the key is a secret: never shown)."""

    base_url: str
    header_key_name: str
    key: str


@dataclass(frozen=True, slots=True)
class ThirdPartyMessage:
    """A citizen's own message, as far as remote content is concerned."""

    id: str
    fiscal_code: str
    sender_service_id: str
    advanced: bool
    data: ThirdPartyData

    @property
    def shows_attachments(self) -> bool:
        return self.data.has_attachments and self.advanced


class Download(Protocol):
    content_type: str
    length: int | None

    def chunks(self) -> AsyncIterator[bytes]: ...


class SenderClient(Protocol):
    async def get_json(self, url: str, headers: Mapping[str, str]) -> bytes:
        """The body of a 2xx answer (bounded); `NotFound` on 404, else `SenderFailed`."""
        ...

    def download(
        self, url: str, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[Download]:
        """An open 2xx answer to stream; `NotFound` on 404, else `SenderFailed`."""
        ...


# What Postino takes from the sender's answers (unknown fields are dropped).
class Details(msgspec.Struct, kw_only=True):
    subject: str
    markdown: str


class Attachment(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    name: str | None = None
    content_type: str | None = None
    category: str | None = None


class RemoteMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    details: Details | None = None
    attachments: list[Attachment] | None = None


class Precondition(msgspec.Struct, kw_only=True):
    title: str
    markdown: str


def third_party_message(row: Mapping[str, Any]) -> ThirdPartyMessage | None:
    """The message's third-party view, or None when it has no third-party data."""
    content = row.get("content") or {}
    raw = content.get("third_party_data") if isinstance(content, Mapping) else None
    if raw is None:
        return None
    data = msgspec.convert(raw, ThirdPartyData)
    return ThirdPartyMessage(
        id=row["id"],
        fiscal_code=row["fiscal_code"],
        sender_service_id=row["sender_service_id"],
        advanced=row["feature_level_type"] == FeatureLevel.ADVANCED.value,
        data=data,
    )


def _url(config: RemoteConfig, message: ThirdPartyMessage, *tail: str) -> str:
    path = "/".join([quote(message.data.id, safe=""), *tail])
    return f"{config.base_url.rstrip('/')}/messages/{path}"


def _headers(config: RemoteConfig, message: ThirdPartyMessage) -> dict[str, str]:
    return {FISCAL_CODE_HEADER: message.fiscal_code, config.header_key_name: config.key}


def _decode(raw: bytes, shape: type[S]) -> S:
    """The sender's answer in `shape`; `SenderFailed("malformed")` for anything else,
    a body nested too deep included (checked before decoding: skipping an unknown
    field of a deep answer would otherwise exhaust the decoder's recursion)."""
    if too_deep(raw) is not None:
        raise SenderFailed("malformed")
    try:
        return msgspec.json.decode(raw, type=shape)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raise SenderFailed("malformed") from exc


async def remote_message(
    client: SenderClient, config: RemoteConfig, message: ThirdPartyMessage
) -> RemoteMessage:
    """Details and attachments the citizen may see (docs/integrators/remote-content.md); NotFound
    when none."""
    data = message.data
    if not (data.has_remote_content or message.shows_attachments):
        raise NotFound("no remote content")
    answer = _decode(
        await client.get_json(_url(config, message), _headers(config, message)), RemoteMessage
    )
    details = answer.details if data.has_remote_content else None
    attachments = (answer.attachments or []) if message.shows_attachments else None
    if data.has_remote_content and details is None:
        raise SenderFailed("malformed")
    return RemoteMessage(details=details, attachments=attachments)


async def precondition(
    client: SenderClient, config: RemoteConfig, message: ThirdPartyMessage
) -> Precondition:
    if message.data.has_precondition in (None, HasPrecondition.NEVER):
        raise NotFound("no precondition")
    url = _url(config, message, "precondition")
    return _decode(await client.get_json(url, _headers(config, message)), Precondition)


def _safe_path(url: str) -> str | None:
    """The attachment url as a path below the message, or None when it could leave it."""
    segments = url.split("/")
    if url.startswith("/") or "\\" in url or any(s in ("", ".", "..") for s in segments):
        return None
    return "/".join(quote(s, safe="") for s in segments)


async def attachment(
    client: SenderClient, config: RemoteConfig, message: ThirdPartyMessage, attachment_url: str
) -> AbstractAsyncContextManager[Download]:
    """The open download of a listed attachment; NotFound when it is not listed."""
    if not message.shows_attachments:
        raise NotFound("no attachments")
    listed = await remote_message(client, config, message)
    if not any(a.url == attachment_url for a in listed.attachments or []):
        raise NotFound("attachment not listed")
    path = _safe_path(attachment_url)
    if path is None:
        raise SenderFailed("malformed")
    return client.download(_url(config, message, path), _headers(config, message))
