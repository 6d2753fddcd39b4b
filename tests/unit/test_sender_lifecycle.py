"""The service lifecycle of docs/integrators/services.md: every transition, allowed or 409."""

from __future__ import annotations

import pytest

from schemas.enums import ServiceState as S
from worker.services.service_lifecycle import (
    TRANSITIONS,
    Action,
    InvalidTransition,
    Lifecycle,
    apply,
)

ALLOWED = {
    (Action.EDIT, S.DRAFT): S.DRAFT,
    (Action.EDIT, S.REJECTED): S.DRAFT,
    (Action.EDIT, S.APPROVED): S.DRAFT,
    (Action.SUBMIT, S.DRAFT): S.SUBMITTED,
    (Action.ABORT, S.SUBMITTED): S.DRAFT,
    (Action.APPROVE, S.SUBMITTED): S.APPROVED,
    (Action.REJECT, S.SUBMITTED): S.REJECTED,
    (Action.DELETE, S.DRAFT): S.DELETED,
    (Action.DELETE, S.REJECTED): S.DELETED,
    (Action.DELETE, S.APPROVED): S.DELETED,
}
LIFECYCLE_ACTIONS = [a for a in Action if a not in (Action.PUBLISH, Action.UNPUBLISH)]
LIFECYCLE_ACTIONS.remove(Action.ROTATE_KEY)


@pytest.mark.parametrize("action", LIFECYCLE_ACTIONS)
@pytest.mark.parametrize("state", list(S))
def test_each_lifecycle_action_from_each_state(action: Action, state: S) -> None:
    expected = ALLOWED.get((action, state))
    if expected is None:
        with pytest.raises(InvalidTransition):
            apply(Lifecycle(state), action)
    else:
        assert apply(Lifecycle(state), action).state is expected


def test_only_an_approved_service_can_be_published() -> None:
    assert apply(Lifecycle(S.APPROVED), Action.PUBLISH) == Lifecycle(S.APPROVED, True, True)
    for state in (S.DRAFT, S.SUBMITTED, S.REJECTED, S.DELETED):
        with pytest.raises(InvalidTransition):
            apply(Lifecycle(state), Action.PUBLISH)


def test_an_edit_of_a_published_service_keeps_it_published_until_unpublish_or_delete() -> None:
    published = Lifecycle(S.APPROVED, True, True)
    edited = apply(published, Action.EDIT)
    assert edited == Lifecycle(S.DRAFT, True, True)
    submitted = apply(edited, Action.SUBMIT)
    assert apply(submitted, Action.REJECT) == Lifecycle(S.REJECTED, True, True)
    assert apply(submitted, Action.APPROVE) == Lifecycle(S.APPROVED, True, True)
    assert apply(edited, Action.DELETE) == Lifecycle(S.DELETED, False, True)
    assert apply(edited, Action.UNPUBLISH) == Lifecycle(S.DRAFT, False, True)
    assert apply(published, Action.ROTATE_KEY) == published


def test_a_draft_version_of_an_approved_service_can_be_published() -> None:
    assert apply(Lifecycle(S.DRAFT, False, True), Action.PUBLISH) == Lifecycle(S.DRAFT, True, True)


def test_a_deleted_service_is_final() -> None:
    for action in TRANSITIONS:
        with pytest.raises(InvalidTransition):
            apply(Lifecycle(S.DELETED), action)
