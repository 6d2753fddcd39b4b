"""HTTP calls to senders for remote content and attachments (docs/integrators/remote-content.md).

Every call goes through the callbacks' SSRF rules (`check_callback_url`,
docs/integrators/callbacks.md) right before it is made, because DNS may have changed since the
URL was set, and
connects only to the addresses that check passed (`worker.adapters.pinned`);
redirects are not followed. Failures are classified here, once: 404 is `NotFound`,
everything else `SenderFailed` with a short reason (`unsafe`, `timeout`,
`unreachable`, `status`, `too_large`, `not_pdf`). The sender's body never travels
further than this module on a failure.

JSON answers are read up to `json_max_bytes`. Attachments are not read here: the
download is handed over open, its `chunks()` yield what arrives (nothing is
buffered whole) and stop with `SenderFailed("too_large")` past
`attachment_max_bytes`. A declared `Content-Length` above it, or a content type
other than `application/pdf`, fail before the first byte is sent on.

Time is bounded in total, not only per read (a sender that drips a byte at a time
never trips a read timeout): a JSON call, from the address check to the last byte,
within `deadline_seconds`; opening a download within the same, and the whole
download within `attachment_deadline_seconds` (`SenderFailed("timeout")`). Each
process opens at most `connections_per_host` connections to one sender's host; a
call waiting for one waits within its deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from worker.adapters.http import HttpClient
from worker.adapters.pinned import pinned, pinned_connector
from worker.services.callback_url import (
    DnsUnavailable,
    IPAddress,
    UnsafeCallbackUrl,
    check_callback_url,
)
from worker.services.remote_content import PDF, Download, NotFound, SenderFailed
from worker.settings import RemoteContentSettings

_CHUNK = 64 * 1024


@dataclass(slots=True)
class _Download:
    response: aiohttp.ClientResponse
    max_bytes: int
    content_type: str
    length: int | None
    #: Event-loop time by which the last byte must have arrived.
    deadline: float

    async def chunks(self) -> AsyncIterator[bytes]:
        seen = 0
        pieces = self.response.content.iter_chunked(_CHUNK)
        while True:
            with _transport_failures():
                try:
                    async with asyncio.timeout_at(self.deadline):
                        chunk = await anext(pieces)
                except StopAsyncIteration:
                    return
            seen += len(chunk)
            if seen > self.max_bytes:
                raise SenderFailed("too_large")
            yield chunk


@contextmanager
def _transport_failures() -> Iterator[None]:
    """The sender's transport failures, classified once: a timeout or a broken
    connection (while connecting or while streaming the answer)."""
    try:
        yield
    except TimeoutError as exc:
        raise SenderFailed("timeout") from exc
    except aiohttp.ClientError as exc:
        raise SenderFailed("unreachable") from exc


class HttpSenderClient(HttpClient):
    """Owns one aiohttp session (`start()`/`stop()` paired, idempotent)."""

    def __init__(
        self,
        settings: RemoteContentSettings,
        *,
        allow_loopback: bool,
        allowed_ports: Collection[int] = (),
    ) -> None:
        super().__init__(settings.timeout_seconds)
        # Per read, not in total: a large attachment may stream for longer.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.timeout_seconds, sock_read=settings.timeout_seconds
        )
        self._settings = settings
        self._allow_loopback = allow_loopback
        self._allowed_ports = allowed_ports

    def _new_session(self) -> aiohttp.ClientSession:
        connector = pinned_connector(limit_per_host=self._settings.connections_per_host)
        return aiohttp.ClientSession(timeout=self._timeout, connector=connector)

    async def _checked(self, url: str) -> list[IPAddress]:
        try:
            return await check_callback_url(
                url, allow_loopback=self._allow_loopback, allowed_ports=self._allowed_ports
            )
        except DnsUnavailable as exc:
            raise SenderFailed("timeout") from exc
        except UnsafeCallbackUrl as exc:
            raise SenderFailed("unsafe") from exc

    @asynccontextmanager
    async def _get(
        self, url: str, headers: Mapping[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The open 2xx answer, opened within `deadline_seconds`. Only the sender's
        failures are classified here: an error raised by the caller's own work on the
        answer passes through unchanged."""
        with _transport_failures():
            async with asyncio.timeout(self._settings.deadline_seconds):
                resp = await self._open(url, headers)
        try:
            if resp.status == 404:
                raise NotFound("the sender answered 404")
            if not 200 <= resp.status < 300:
                raise SenderFailed("status")
            yield resp
        finally:
            resp.release()

    async def _open(self, url: str, headers: Mapping[str, str]) -> aiohttp.ClientResponse:
        addresses = await self._checked(url)
        session = await self._ready()
        # The connection is opened here, to the addresses the check passed.
        with pinned(urlsplit(url).hostname or "", addresses):
            return await session.get(url, headers=dict(headers), allow_redirects=False)

    async def get_json(self, url: str, headers: Mapping[str, str]) -> bytes:
        limit = self._settings.json_max_bytes
        deadline = asyncio.get_running_loop().time() + self._settings.deadline_seconds
        async with self._get(url, headers) as resp:
            if resp.content_length is not None and resp.content_length > limit:
                raise SenderFailed("too_large")
            body = bytearray()
            async for chunk in _Download(resp, limit, "", None, deadline).chunks():
                body += chunk
            return bytes(body)

    def download(
        self, url: str, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[Download]:
        return self._download(url, headers)

    @asynccontextmanager
    async def _download(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[Download]:
        limit = self._settings.attachment_max_bytes
        deadline = asyncio.get_running_loop().time() + self._settings.attachment_deadline_seconds
        async with self._get(url, headers) as resp:
            if resp.content_type != PDF:
                raise SenderFailed("not_pdf")
            if resp.content_length is not None and resp.content_length > limit:
                raise SenderFailed("too_large")
            yield _Download(resp, limit, PDF, resp.content_length, deadline)
