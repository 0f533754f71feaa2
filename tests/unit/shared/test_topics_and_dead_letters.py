"""The catalog's rules and the dead-letter convention."""

from __future__ import annotations

from shared import dead_letters
from shared.records import IncomingRecord, RejectedRecord
from shared.topics import BY_NAME, CATALOG, DATA_TOPICS


def test_every_data_topic_has_a_dead_letter_topic() -> None:
    for spec in DATA_TOPICS:
        assert spec.dead_letter in BY_NAME


def test_compacted_topics_never_expire_by_time() -> None:
    for spec in CATALOG:
        config = spec.config()
        if spec.cleanup == "compact":
            assert "retention.ms" not in config, spec.name
            assert "delete.retention.ms" in config, spec.name
        else:
            assert int(config["retention.ms"]) > 0, spec.name


def test_names_are_unique() -> None:
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)


def test_dead_letter_keeps_bytes_and_adds_why() -> None:
    original = IncomingRecord(topic="referral.offers", partition=3, offset=42, key=b"k",
                              value=b"\x00\x01", headers=[("ce_id", b"e1")])
    letter = dead_letters.dead_letter(original, RejectedRecord("bad-signature", "kid abc"),
                                      consumer="notifier")
    assert (letter.topic, letter.key, letter.value) == ("referral.offers.dlq", b"k", b"\x00\x01")
    assert ("ce_id", b"e1") in letter.headers
    why = dead_letters.reason_of(letter.headers)
    assert why[dead_letters.ORIGINAL_TOPIC] == "referral.offers"
    assert why[dead_letters.ORIGINAL_PARTITION] == "3"
    assert why[dead_letters.ORIGINAL_OFFSET] == "42"
    assert why[dead_letters.REASON] == "bad-signature"
    assert why[dead_letters.CONSUMER] == "notifier"


def test_redead_lettering_replaces_rather_than_stacks_reasons() -> None:
    first = dead_letters.dead_letter(
        IncomingRecord(topic="a", partition=0, offset=1, key=None, value=None, headers=[]),
        RejectedRecord("one"), consumer="x")
    again = dead_letters.dead_letter(
        IncomingRecord(topic="a", partition=0, offset=2, key=None, value=None,
                       headers=first.headers),
        RejectedRecord("two"), consumer="x")
    reasons = [v for k, v in again.headers if k == dead_letters.REASON]
    assert reasons == [b"two"]
