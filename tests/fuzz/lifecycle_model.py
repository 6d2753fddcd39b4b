"""The model the lifecycle state machine checks Postino against: the service lifecycle
rules (docs/integrators/services.md) written
down once more, as plainly as possible, independently of `service_lifecycle`.

A service has a working version (state, name) and maybe an approved copy (the name
it had when last approved); it is published or not; it has two current keys and the
keys it had before. What each action answers, and what a sender and a citizen must
see afterwards, follow from that alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.patterns import SANDBOX_FISCAL_CODE

SANDBOX = SANDBOX_FISCAL_CODE
AUTHORIZED = "VRDGPP80A01H501X"
OUTSIDER = "RSSMRA80A01H501U"
CITIZENS = (SANDBOX, AUTHORIZED, OUTSIDER)

DRAFT, SUBMITTED, APPROVED, REJECTED, DELETED = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "deleted",
)
LIVE = frozenset({DRAFT, SUBMITTED, APPROVED, REJECTED})


@dataclass
class ServiceModel:
    id: str
    name: str
    keys: dict[str, str]
    state: str = DRAFT
    published: bool = False
    approved_name: str | None = None
    auto_publish: bool = False
    old_keys: list[str] = field(default_factory=list)
    #: (message id, recipient) of the messages accepted (201) since deliver last ran.
    pending: list[tuple[str, str]] = field(default_factory=list)
    #: The last few of them deliver stored (PROCESSED): what citizens must see.
    delivered: list[tuple[str, str]] = field(default_factory=list)
    last_accepted: tuple[str, str] | None = None
    edits: int = 0

    # -- what each action must answer: the new model, or None when it is refused ----

    def edit_allowed(self) -> bool:
        return self.state in (DRAFT, REJECTED, APPROVED)

    def edited(self, name: str) -> None:
        self.name, self.state = name, DRAFT

    def submit_allowed(self) -> bool:
        return self.state == DRAFT

    def submitted(self, auto_publish: bool) -> None:
        self.state, self.auto_publish = SUBMITTED, auto_publish

    def review_allowed(self) -> bool:
        return self.state == SUBMITTED

    def approved(self) -> None:
        self.state, self.approved_name = APPROVED, self.name
        self.published = self.published or self.auto_publish

    def publish_allowed(self) -> bool:
        return self.state in LIVE and (self.approved_name is not None)

    def delete_allowed(self) -> bool:
        return self.state in (DRAFT, REJECTED, APPROVED)

    def rotated(self, which: str, key: str) -> None:
        self.old_keys.append(self.keys[which])
        self.keys[which] = key

    # -- what senders and citizens must see -------------------------------------------

    @property
    def can_send(self) -> bool:
        return self.state != DELETED

    def may_reach(self, fiscal_code: str) -> bool:
        if not self.can_send:
            return False
        return self.published or fiscal_code in (SANDBOX, AUTHORIZED)

    def submit_status(self, fiscal_code: str) -> set[int]:
        """The answers a submit with a current key may get."""
        if not self.can_send:
            return {401, 403}
        return {201} if self.may_reach(fiscal_code) else {403}

    @property
    def served_name(self) -> str:
        """The name citizens are shown: the approved copy's while published."""
        if self.published and self.approved_name is not None:
            return self.approved_name
        return self.name
