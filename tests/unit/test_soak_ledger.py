"""The soak's ledger of what is still owed: an arrival journaled before the generator
recorded the message's acceptance (its `201` still queued) is not owed afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.soak.load import Ledger, accepted
from tests.soak.sample import Sampler


def _sampler(journal: Path, ledger: Ledger) -> Sampler:
    stack: Any = SimpleNamespace(sinks=SimpleNamespace(journal=journal))
    return Sampler(stack=stack, settings=None, ledger=ledger)  # type: ignore[arg-type]


def _journal(path: Path, *entries: dict[str, object]) -> None:
    with path.open("a", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps({**entry, "t": 1.0}) + "\n")


def test_an_arrival_before_its_acceptance_is_recorded_is_not_owed(tmp_path: Path) -> None:
    journal, ledger = tmp_path / "arrivals.jsonl", Ledger()
    sampler = _sampler(journal, ledger)
    _journal(journal, {"k": "push", "id": "M1"}, {"k": "mail", "id": "chaos-00000001"})
    sampler._arrivals()
    accepted(ledger, "M1", 1)
    accepted(ledger, "M2", 2)
    assert set(ledger.unpushed) == {"M2"}
    assert set(ledger.unmailed) == {"chaos-00000002"}
    _journal(journal, {"k": "push", "id": "M2"}, {"k": "mail", "id": "chaos-00000002"})
    sampler._arrivals()
    assert not ledger.unpushed and not ledger.unmailed and not ledger.early
    assert (sampler.pushed, sampler.mailed) == (2, 2)
