"""Signed message ids: issued ones are recognised, others are not."""

from __future__ import annotations

from worker.ids import IdSigner, decode_ulid, encode_ulid, notification_id, record_id

SIGNER = IdSigner("secret")
FC = "RSSMRA80A01H501U"


def test_an_id_is_a_canonical_ulid_carrying_the_acceptance_time() -> None:
    message_id = SIGNER.new("svc", FC, now_ms=1_795_000_000_000)
    assert len(message_id) == 26
    assert set(message_id) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert decode_ulid(message_id) >> 80 == 1_795_000_000_000  # its first 48 bits


def test_encoding_round_trips() -> None:
    for value in (0, 1, 2**127 + 12345, 2**128 - 1):
        assert decode_ulid(encode_ulid(value)) == value


def test_the_signer_recognises_its_ids_for_the_same_service_and_citizen_only() -> None:
    message_id = SIGNER.new("svc", FC)
    assert SIGNER.issued(message_id, "svc", FC)
    assert not SIGNER.issued(message_id, "other", FC)
    assert not SIGNER.issued(message_id, "svc", "VRDGPP80A01H501X")
    assert not IdSigner("another secret").issued(message_id, "svc", FC)


def test_ids_that_are_not_ulids_are_never_recognised() -> None:
    for bad in ("", "short", "8" * 26, "01M80ZZ7YPV52GGSADHPENDAD!", "01m80zz7ypv52ggsadhpendade"):
        assert not SIGNER.issued(bad, "svc", FC)


def test_an_idempotency_key_always_yields_the_same_id() -> None:
    first = SIGNER.idempotent("svc", FC, "key-1")
    again = IdSigner("secret").idempotent("svc", FC, "key-1")
    assert first == again
    assert SIGNER.issued(first, "svc", FC)
    assert SIGNER.idempotent("svc", FC, "key-2") != first
    assert SIGNER.idempotent("svc2", FC, "key-1") != first


def test_record_ids_are_stable_per_topic_partition_offset() -> None:
    assert record_id("t", 0, 5, 1000) == record_id("t", 0, 5, 1000)
    assert record_id("t", 0, 5, 1000) != record_id("t", 1, 5, 1000)
    assert len(record_id("t", 0, 5, 1000)) == 26


def test_notification_ids_derive_from_message_channel_and_kind() -> None:
    assert notification_id("M1", "PUSH", "MESSAGE") == "M1-push-message"


def test_the_tag_is_the_hmac_sha256_of_time_service_and_citizen() -> None:
    import hmac

    signer = IdSigner("s3cret")
    value = decode_ulid(signer.new("svc", "RSSMRA80A01H501U", now_ms=1_764_520_000_000))
    assert value is not None
    digest = hmac.digest(b"s3cret", b"1764520000000\x00svc\x00RSSMRA80A01H501U", "sha256")
    assert value & ((1 << 80) - 1) == int.from_bytes(digest[:10], "big")
    assert value >> 80 == 1_764_520_000_000


def test_the_tag_is_the_standard_hmac_for_secrets_of_any_length() -> None:
    import hmac

    for secret in ("", "k" * 63, "k" * 64, "k" * 65, "è" * 200):  # past 64 bytes: hashed first
        value = decode_ulid(IdSigner(secret).new("svc", "RSSMRA80A01H501U", now_ms=1))
        assert value is not None
        digest = hmac.digest(secret.encode(), b"1\x00svc\x00RSSMRA80A01H501U", "sha256")
        assert value & ((1 << 80) - 1) == int.from_bytes(digest[:10], "big")


def test_an_id_tells_the_feature_level_it_was_issued_with() -> None:
    standard = SIGNER.new("svc", FC, now_ms=1_795_000_000_000)
    advanced = SIGNER.new("svc", FC, now_ms=1_795_000_000_000, level="ADVANCED")
    assert standard != advanced
    assert SIGNER.issued_level(standard, "svc", FC) == "STANDARD"
    assert SIGNER.issued_level(advanced, "svc", FC) == "ADVANCED"
    assert SIGNER.issued(advanced, "svc", FC)
    assert SIGNER.issued_level(advanced, "other", FC) is None
    keyed = SIGNER.idempotent("svc", FC, "key-1", "ADVANCED")
    assert SIGNER.issued_level(keyed, "svc", FC) == "ADVANCED"
    assert keyed != SIGNER.idempotent("svc", FC, "key-1")
