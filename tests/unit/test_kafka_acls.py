"""The ACLs the operators' page lists per principal are exactly what the topic
inventory and the consumer groups require, and every role has its section."""

from __future__ import annotations

import re
from pathlib import Path

from worker.adapters.kafka_topics import load_inventory
from worker.core.acls import all_acls, role_acls, table
from worker.roles.registry import ROLES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operators" / "kafka-acls.md"


def _documented() -> dict[str, list[str]]:
    """Principal -> the table rows under its `### <principal>` heading."""
    sections = re.split(r"^### (\S+)\n", PAGE.read_text(), flags=re.MULTILINE)[1:]
    return {
        who: [line for line in body.splitlines() if re.match(r"\| (topic|group|cluster) \|", line)]
        for who, body in zip(sections[::2], sections[1::2], strict=True)
    }


def test_the_page_lists_exactly_the_acls_each_principal_needs() -> None:
    wanted = {who: table(acls) for who, acls in all_acls(load_inventory(), ROLES).items()}
    assert _documented() == wanted


def test_a_role_reads_what_it_consumes_writes_its_dlqs_and_never_administers_topics() -> None:
    deliver = role_acls(load_inventory(), "deliver")
    assert ("topic", "messages.submitted", "Read") in deliver
    assert ("topic", "messages.submitted.dlq", "Write") in deliver
    assert ("group", "deliver", "Read") in deliver
    for role in ROLES:
        operations = {op for _, _, op in role_acls(load_inventory(), role)}
        assert operations <= {"Read", "Write", "Describe"}, role
