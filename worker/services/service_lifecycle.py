"""The service lifecycle of docs/integrators/services.md, as a pure state machine.

States (of the working version): draft, submitted, approved, rejected, deleted.
Publication is separate: it serves a copy of the last approved version, so a content
edit (a new draft version), a submission, an abort or a rejection leave a published
service published; only unpublish and delete take it offline. Publishing needs an
approved version (the working one, or a published copy kept from an earlier one).
An action not allowed from the current state raises `InvalidTransition` (HTTP 409).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from schemas.enums import ServiceState


class Action(enum.StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    ABORT = "abort"
    APPROVE = "approve"
    REJECT = "reject"
    DELETE = "delete"
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    ROTATE_KEY = "rotate_key"


_D, _S, _A, _R, _X = (
    ServiceState.DRAFT,
    ServiceState.SUBMITTED,
    ServiceState.APPROVED,
    ServiceState.REJECTED,
    ServiceState.DELETED,
)

#: action -> (states it is allowed from, resulting state; None keeps the state)
TRANSITIONS: dict[Action, tuple[frozenset[ServiceState], ServiceState | None]] = {
    Action.EDIT: (frozenset({_D, _R, _A}), _D),
    Action.SUBMIT: (frozenset({_D}), _S),
    Action.ABORT: (frozenset({_S}), _D),
    Action.APPROVE: (frozenset({_S}), _A),
    Action.REJECT: (frozenset({_S}), _R),
    Action.DELETE: (frozenset({_D, _R, _A}), _X),
    # Publishing from another state needs an approved copy: checked in `apply`.
    Action.PUBLISH: (frozenset({_D, _S, _A, _R}), None),
    Action.UNPUBLISH: (frozenset({_D, _S, _A, _R}), None),
    Action.ROTATE_KEY: (frozenset({_D, _S, _A, _R}), None),
}


class InvalidTransition(Exception):
    def __init__(self, action: Action, state: ServiceState) -> None:
        super().__init__(f"cannot {action.value} a service in state {state.value}")
        self.action = action
        self.state = state


@dataclass(frozen=True, slots=True)
class Lifecycle:
    state: ServiceState
    published: bool = False
    #: An approved version exists (a publication copy), whatever the working state.
    approved_copy: bool = False


def apply(current: Lifecycle, action: Action) -> Lifecycle:
    """The lifecycle after `action`, or `InvalidTransition`."""
    allowed, target = TRANSITIONS[action]
    if current.state not in allowed:
        raise InvalidTransition(action, current.state)
    approved = current.approved_copy or current.state is ServiceState.APPROVED
    if action is Action.PUBLISH and not approved:
        raise InvalidTransition(action, current.state)
    state = current.state if target is None else target
    approved = approved or state is ServiceState.APPROVED
    if action is Action.PUBLISH:
        return Lifecycle(state, True, approved)
    if action in (Action.UNPUBLISH, Action.DELETE):
        return Lifecycle(state, False, approved)
    return Lifecycle(state, current.published, approved)
