"""The CMS API's pure rules: IO's payloads to columns, logos, topics, rights, notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from schemas.cms import CmsServicePayload
from schemas.service_topics import SERVICE_TOPICS, topic
from tests.integration.cms_helpers import payload
from worker.services.backoffice_model import ADMIN, Actor, ActorKind, ServiceRecord
from worker.services.callback_health import CallbackHealth
from worker.services.cms import UnknownTopic, lifecycle_view, payload_columns
from worker.services.notices import Contacts, NoticeKind, for_action, quota_level
from worker.services.service_lifecycle import Action

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _record(**fields: object) -> ServiceRecord:
    values: dict[str, object] = {
        "id": "svc-1",
        "version": 1,
        "name": "Tributi",
        "organization_name": "Comune di Prova",
        "organization_fiscal_code": "12345678901",
        "state": "draft",
        "published": False,
        "premium": False,
        "payments": False,
        "max_allowed_payment_amount": 1_000_000,
        "authorized_recipients": [],
        "authorized_cidrs": [],
        "require_secure_channels": False,
        "eu_covid_cert": False,
        "created_at": T0,
        "updated_at": T0,
        "scope": "LOCAL",
        "topic_id": 3,
    }
    return ServiceRecord(**(values | fields))  # type: ignore[arg-type]


def _payload(**fields: object) -> CmsServicePayload:
    return msgspec.convert(payload(**fields), CmsServicePayload)


def test_a_payload_sets_every_content_column_and_never_the_owner() -> None:
    columns = payload_columns(_payload(require_secure_channel=True), "Comune di Prova")
    assert "organization_fiscal_code" not in columns
    assert columns["organization_name"] == "Comune di Prova"
    assert columns["require_secure_channels"] is True
    assert columns["max_allowed_payment_amount"] == 1_000_000  # Postino's default
    assert (columns["topic_id"], columns["scope"], columns["web_url"]) == (10, "LOCAL", None)
    with pytest.raises(UnknownTopic, match=r"metadata\.topic_id: 99"):
        payload_columns(_payload(metadata={"topic_id": 99}), "Comune di Prova")


def test_io_s_answer_leaves_out_what_is_empty_and_names_the_topic() -> None:
    view = msgspec.to_builtins(lifecycle_view(_record(state="rejected", reject_reason="no")))
    assert view["status"] == {"value": "rejected", "reason": "no"}
    assert view["metadata"] == {"scope": "LOCAL", "topic": {"id": 3, "name": "Benessere sociale"}}
    assert "department_name" not in view["organization"]
    assert "primary_key" not in view


def test_topics_are_io_s_fixed_list() -> None:
    assert [t.id for t in SERVICE_TOPICS] == list(range(18))
    assert topic(17) is not None and topic(17).name == "Salute"  # type: ignore[union-attr]
    assert topic(None) is None and topic(18) is None


def test_a_manage_key_sees_only_its_own_body_s_services() -> None:
    mine = Actor(ActorKind.MANAGE_KEY, "k1", "12345678901")
    theirs = Actor(ActorKind.MANAGE_KEY, "k2", "10987654321")
    service = _record()
    assert mine.sees(service) and ADMIN.sees(service) and not theirs.sees(service)


def test_callback_health_keeps_the_first_failure_after_the_latest_success() -> None:
    health = CallbackHealth()
    health.record("s", False, T0)
    health.record("s", False, T0 + timedelta(minutes=5))
    [counts] = health.take()
    assert (counts.failing_since, counts.last_failure) == (T0, T0 + timedelta(minutes=5))
    assert len(health) == 0
    health.record("s", False, T0)
    health.record("s", True, T0 + timedelta(minutes=1))
    health.record("s", False, T0 + timedelta(minutes=2))
    [counts] = health.take()
    assert counts.failing_since == T0 + timedelta(minutes=2)
    health.put_back([counts])
    [again] = health.take()
    assert (again.failing_since, again.last_success) == (counts.failing_since, counts.last_success)
    health.record("s", False, T0)
    health.record("s", True, T0 + timedelta(minutes=1))
    assert health.take()[0].failing_since is None


def test_quota_levels_are_80_and_100_percent() -> None:
    assert [quota_level(n, 10) for n in (7, 8, 9, 10, 11)] == [None, 80, 80, 100, 100]
    assert quota_level(5, 0) is None


def test_actions_owe_the_notices_the_rules_name() -> None:
    contacts = Contacts("svc@example.org", "svc@example.org")
    assert contacts.recipients() == ("svc@example.org",)
    before, approved = _record(state="submitted"), _record(state="approved")
    [notice] = for_action(Action.APPROVE, before, approved, contacts, T0)
    assert (notice.kind, notice.gate, notice.history.action) == (
        NoticeKind.REVIEW_APPROVED,
        "review_approved",
        "notice_review_approved",
    )
    rejected = _record(state="rejected", reject_reason="logo assente")
    [notice] = for_action(Action.REJECT, before, rejected, contacts, T0)
    assert "logo assente" in notice.body and notice.history.reason == "logo assente"
    live, offline = _record(state="approved", published=True), _record(state="approved")
    assert [n.kind for n in for_action(Action.UNPUBLISH, live, offline, contacts, T0)] == [
        NoticeKind.UNPUBLISHED
    ]
    assert for_action(Action.UNPUBLISH, offline, offline, contacts, T0) == []
