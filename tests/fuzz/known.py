"""Defects this fuzzing found in code other work owns, each reported there with a
reproducer. A failure matching one is printed as `KNOWN DEFECT` on every run instead
of failing the test; an entry is removed once its fix is merged (a run that no longer
prints it says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Known:
    #: A regular expression a failure line (route, mode, symptom, request) matches.
    pattern: str
    what: str

    def matches(self, failure: str) -> bool:
        return re.search(self.pattern, failure, re.DOTALL) is not None


KNOWN: tuple[Known, ...] = ()


def split(failures: list[str]) -> tuple[list[str], list[str]]:
    """(new failures, known ones, each as `what: failure`)."""
    new, known = [], []
    for failure in failures:
        match = next((k for k in KNOWN if k.matches(failure)), None)
        if match is None:
            new.append(failure)
        else:
            known.append(f"{match.what}\n    {failure[:300]}")
    return new, known
