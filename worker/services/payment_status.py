"""What pagoPA says about a payment notice, asked before each payment reminder.

The payment events on `payments.updates` are how Postino learns of a payment; an
event that never arrived must not make a citizen who already paid get reminders.
So the reminders round asks pagoPA's notice lookup about each payment reminder it
is about to send:

- `PAID`: pagoPA reports the notice already paid (a duplicated payment): no reminder;
- `PAYABLE`: the notice can be paid: the reminder goes;
- `UNKNOWN`: no lookup is configured, or pagoPA did not answer usefully (down,
  timed out, an answer of another shape): the reminder goes, as it would without
  the lookup. A lookup outage never silences every payment reminder.
"""

from __future__ import annotations

import enum
from typing import Protocol


class NoticeStatus(enum.StrEnum):
    PAYABLE = "PAYABLE"
    PAID = "PAID"
    UNKNOWN = "UNKNOWN"


class PaymentStatusLookup(Protocol):
    async def notice_status(self, rpt_id: str) -> NoticeStatus:
        """Never raises: a failure is `UNKNOWN` (logged by the adapter)."""
        ...


class NoLookup:
    """No notice lookup configured: every notice is `UNKNOWN`."""

    async def notice_status(self, rpt_id: str) -> NoticeStatus:
        return NoticeStatus.UNKNOWN


#: pagoPA fault details that mean "this notice is already paid".
PAID_FAULTS = frozenset({"PAA_PAGAMENTO_DUPLICATO", "PPT_PAGAMENTO_DUPLICATO", "PPT_RPT_DUPLICATA"})
#: pagoPA fault categories that mean the same.
PAID_CATEGORIES = frozenset({"PAYMENT_DUPLICATED"})


def status_of_fault(category: str | None, detail: str | None) -> NoticeStatus:
    """The notice status a pagoPA fault answer stands for."""
    if (detail or "").upper() in PAID_FAULTS or (category or "").upper() in PAID_CATEGORIES:
        return NoticeStatus.PAID
    return NoticeStatus.UNKNOWN
