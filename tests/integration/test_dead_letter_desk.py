"""`haven dlq` on the real broker (issue 14): list dead letters by reason, show one without
its payload, and replay it to its source topic byte for byte, audited.

The dead letters here live on scratch topics of the test's own, so replaying them
sends nothing to a topic a service consumes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from sqlmodel import Session, create_engine, select
from typer.testing import CliRunner

from services.cli import app as haven
from services.dead_letters_cli import dead_letter_id
from services.intake.models import AuditEntry
from shared import dead_letter_desk as desk
from shared.dead_letters import dead_letter
from shared.records import IncomingRecord, RejectedRecord
from shared.settings import KafkaSettings
from tests.support.kafka import raw_producer, read_until

CANARY = b"CANARY-DLQ-PAYLOAD-Qx7"


@pytest.fixture
def scratch(kafka_broker: KafkaSettings) -> tuple[str, str]:
    source = f"test-desk-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    admin.create_topics([NewTopic(source, 2, 1), NewTopic(f"{source}.dlq", 1, 1)])
    admin.close()
    return source, f"{source}.dlq"


def _refuse(kafka: KafkaSettings, source: str, reason: str) -> IncomingRecord:
    """What a consumer does with a refused record at partition 1 of `source`."""
    original = IncomingRecord(topic=source, partition=1, offset=41, key=b"referral-key",
                              value=CANARY, headers=[("ce_type", b"haven.referral.submitted"),
                                                     ("ce_id", str(uuid.uuid4()).encode())])
    letter = dead_letter(original, RejectedRecord(reason, "a field path"), consumer="matching")
    producer = raw_producer(kafka.bootstrap_servers)
    producer.send(letter.topic, key=letter.key, value=letter.value,
                  headers=letter.headers).get(timeout=30)
    producer.close()
    return original


def test_dead_letters_are_counted_by_reason_and_shown_without_payload(
        kafka_broker: KafkaSettings, scratch: tuple[str, str]) -> None:
    source, dlq = scratch
    for reason in ("bad-signature", "bad-signature", "erased"):
        _refuse(kafka_broker, source, reason)
    letters = [desk.describe(r) for r in desk.read_all(kafka_broker, (dlq,))]
    assert desk.summary(letters) == {(dlq, "bad-signature", "matching"): 2,
                                     (dlq, "erased", "matching"): 1}
    shown = CliRunner().invoke(haven, ["dlq", "show", f"{dlq}:0:1"])
    assert shown.exit_code == 0, shown.output
    assert f"from: {source}:1:41" in shown.output and "bad-signature" in shown.output
    assert CANARY.decode() not in shown.output and f"{len(CANARY)} bytes" in shown.output


def test_a_replayed_dead_letter_reaches_its_source_unchanged_and_is_audited(
        kafka_broker: KafkaSettings, scratch: tuple[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source, dlq = scratch
    original = _refuse(kafka_broker, source, "unknown-signing-key")
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    replayed = CliRunner().invoke(haven, ["dlq", "replay", f"{dlq}:0:0"])
    assert replayed.exit_code == 0, replayed.output
    assert f"sent back to {source}:1:0" in replayed.output
    [back] = read_until(kafka_broker.bootstrap_servers, source, lambda rs: len(rs) >= 1,
                        timeout_s=30)
    assert (back.partition, back.key, back.value) == (1, original.key, original.value)
    assert back.headers == original.headers, "the original headers, no dead-letter ones"
    engine = create_engine(f"sqlite:///{tmp_path / 'intake.sqlite3'}")
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
    engine.dispose()
    assert [(e.action, e.subject_id) for e in entries] == [
        ("operator.dead_letter_replayed", dead_letter_id(f"{dlq}:0:0"))]


def test_bad_addresses_get_a_clear_error_and_exit_1(kafka_broker: KafkaSettings,
                                                    scratch: tuple[str, str]) -> None:
    _, dlq = scratch
    for address, says in (("referral.submitted:0:1", "is not TOPIC.dlq:PARTITION:OFFSET"),
                          (f"{dlq}:0:99", "no record at offset 99"),
                          (f"{dlq}:7:0", "no partition 7")):
        result = CliRunner().invoke(haven, ["dlq", "show", address])
        assert result.exit_code == 1, (address, result.output)
        assert says in result.output, (address, result.output)


def test_list_exits_3_when_there_are_dead_letters(kafka_broker: KafkaSettings) -> None:
    """On the shared broker other tests' dead letters exist by now, or none: both answer."""
    found = desk.read_all(kafka_broker)
    result = CliRunner().invoke(haven, ["dlq", "list"])
    assert result.exit_code == (3 if found else 0), result.output
    assert ("reason" in result.output) if found else ("no dead letters" in result.output)
