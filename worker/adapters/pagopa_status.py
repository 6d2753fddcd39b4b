"""pagoPA's notice lookup over HTTP: `GET {base_url}/payment-requests/{rpt_id}`.

The shape is that of pagoPA's public payment-request lookup (checkout and
eCommerce): header `Ocp-Apim-Subscription-Key`; 200 with the notice
(`rptId`, `paFiscalCode`, `amount`, ...) when it can be paid; a problem answer
with `faultCodeCategory` and `faultCodeDetail` otherwise, where a duplicated
payment (`PAA_PAGAMENTO_DUPLICATO`, `PPT_PAGAMENTO_DUPLICATO`, category
`PAYMENT_DUPLICATED`) means the notice is already paid. Anything else (timeouts,
5xx, another shape) is `UNKNOWN`: the caller goes on as without the lookup.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import msgspec

from worker import logs
from worker.services.payment_status import NoticeStatus, status_of_fault

log = logs.get("postino.pagopa")

#: Largest answer read: a notice or a problem is a few hundred bytes.
_MAX_ANSWER_BYTES = 64 * 1024


class _Fault(msgspec.Struct):
    faultCodeCategory: str | None = None
    faultCodeDetail: str | None = None


class HttpPaymentStatus:
    """Owns one aiohttp session; `stop()` is idempotent."""

    def __init__(self, base_url: str, key: str | None, timeout_seconds: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Ocp-Apim-Subscription-Key": key} if key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def notice_status(self, rpt_id: str) -> NoticeStatus:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self._base}/payment-requests/{quote(rpt_id, safe='')}"
        try:
            async with self._session.get(url, headers=self._headers) as resp:
                body = await resp.content.read(_MAX_ANSWER_BYTES)
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("pagopa_lookup_failed", error=type(exc).__name__)
            return NoticeStatus.UNKNOWN
        return _answer(status, body)


def _answer(status: int, body: bytes) -> NoticeStatus:
    if status == 200:
        return NoticeStatus.PAYABLE
    if 400 <= status < 500 and status not in (401, 403, 408, 429):
        try:
            fault = msgspec.json.decode(body, type=_Fault)
        except msgspec.DecodeError:
            fault = _Fault()
        found = status_of_fault(fault.faultCodeCategory, fault.faultCodeDetail)
        if found is not NoticeStatus.UNKNOWN:
            return found
    log.warning("pagopa_lookup_unanswered", status=status)
    return NoticeStatus.UNKNOWN
