"""The service lifecycle of IO-RULES 5, as a pure state machine.

States: draft, submitted, approved, rejected, deleted. Publication is a separate
flag that only an approved service may carry; any move out of `approved` clears it,
so an edited (back to draft) or deleted service stops reaching citizens at once.
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
    Action.PUBLISH: (frozenset({_A}), None),
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


def apply(current: Lifecycle, action: Action) -> Lifecycle:
    """The lifecycle after `action`, or `InvalidTransition`."""
    allowed, target = TRANSITIONS[action]
    if current.state not in allowed:
        raise InvalidTransition(action, current.state)
    state = current.state if target is None else target
    if action is Action.PUBLISH:
        return Lifecycle(state, True)
    if action is Action.UNPUBLISH or state is not ServiceState.APPROVED:
        return Lifecycle(state, False)
    return Lifecycle(state, current.published)
