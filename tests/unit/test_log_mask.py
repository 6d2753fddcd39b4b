"""Logs: fiscal codes tagged with an HMAC under a secret (not a plain hash anyone can
reverse by trying every fiscal code), and error text cut before it is redacted."""

from __future__ import annotations

import hashlib
import time

from worker import logs

FISCAL_CODE = "RSSMRA80A01H501U"


def test_the_mask_is_an_hmac_under_the_secret_stable_per_secret() -> None:
    logs.use_mask_secret("a" * 32)
    first = logs.mask(FISCAL_CODE)
    assert first == logs.mask(FISCAL_CODE)
    assert hashlib.sha256(FISCAL_CODE.encode()).hexdigest()[:12] not in first
    logs.use_mask_secret("b" * 32)
    assert logs.mask(FISCAL_CODE) != first
    assert FISCAL_CODE not in first


def test_redaction_is_linear_on_long_text_and_still_redacts() -> None:
    text = "x" * 200_000 + " mario.rossi@example.org " + FISCAL_CODE
    started = time.perf_counter()
    for _ in range(10):
        logs.safe_error_text(ValueError("a" * 100_000 + "@b"))
    elapsed = time.perf_counter() - started
    print(f"10 redactions of 100k characters: {elapsed * 1000:.1f} ms")
    short = logs.safe_error_text(ValueError(f"row ({FISCAL_CODE}, mario.rossi@example.org) fails"))
    assert FISCAL_CODE not in short and "mario.rossi" not in short
    assert logs.safe_error_text(ValueError(text), 50) == "x" * 50


def test_a_value_at_the_cut_is_redacted_whole() -> None:
    text = "y" * 290 + " " + FISCAL_CODE
    assert "RSSMRA" not in logs.safe_error_text(ValueError(text), 300)
