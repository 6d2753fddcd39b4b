"""The table-driven ULID codec answers exactly what the plain per-character one does,
for canonical ULIDs and for every kind of near miss (wrong length, excluded letters,
lower case, a first character above 7, non-ASCII digits, blanks)."""

from __future__ import annotations

import random

from worker.ids import CROCKFORD, decode_ulid, encode_ulid


def _encode(value: int) -> str:
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def _decode(text: str) -> int | None:
    if len(text) != 26 or text[0] not in "01234567":
        return None
    value = 0
    for char in text:
        if char not in CROCKFORD:
            return None
        value = (value << 5) | CROCKFORD.index(char)
    return value


def test_encode_and_decode_match_the_plain_codec() -> None:
    rng = random.Random(11)
    values = [rng.getrandbits(rng.choice((10, 48, 128))) for _ in range(3000)]
    values += [0, (1 << 128) - 1]
    texts = [encode_ulid(v) for v in values]
    assert texts == [_encode(v) for v in values]
    assert [decode_ulid(t) for t in texts] == values
    odd = "ILOUilou_ -\n\u0661z"
    near = [t[:7] + rng.choice(odd) + t[8:] for t in texts[:500]]
    near += ["8" + t[1:] for t in texts[:50]] + [t[:-1] for t in texts[:50]]
    near += [t + "0" for t in texts[:50]] + ["", "0" * 26, "7" + "Z" * 25]
    assert [decode_ulid(t) for t in near] == [_decode(t) for t in near]
