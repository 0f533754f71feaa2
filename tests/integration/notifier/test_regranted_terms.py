"""Contact consent withdrawn, then given again with new terms, through the real services.

A real intake process (API, outbox, relay) and a real notifier process on the real
broker, a real SMTP server and an HTTP stand-in as the SMS gateway; the test plays
matching only, to say the person has a place. The person first agreed to texts on
one number, withdrew, then agreed to e-mail at a new address: the news of the place
must reach the new address once, nothing may go to the old number, and neither
address may appear in the clear on the broker, in any log or in intake's database.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shared.events import ReferralStatusChanged
from shared.events.vocabulary import ReferralStatus
from shared.identity import service_codec
from shared.kafka import EventPublisher, create_producer
from shared.recipients import MATCHING
from shared.settings import KafkaSettings, RuntimeSettings
from tests.support.canary import Canaries, every_file, every_record, found_in
from tests.support.intake import referral_body
from tests.support.intake_process import IntakeUnderTest
from tests.support.kafka import start_group_at_end
from tests.support.notifier_run import CONSUMED
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn
from tests.support.processes import ServiceProcess, wait_until

pytestmark = pytest.mark.slow
ALL_DAY = {"start": "00:00", "end": "00:00", "timezone": "Europe/Amsterdam"}


def _notifier(var_dir: Path, kafka: KafkaSettings, smtp: SmtpStandIn,
              http: HttpStandIn) -> ServiceProcess:
    """The notifier worker in its own consumer group, starting at today's end offsets."""
    app_id = f"test-regrant-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka.bootstrap_servers, app_id, CONSUMED)
    folder = var_dir / "notifier"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subscriptions.json").write_text(json.dumps({"organizations": []}))
    return ServiceProcess("services.notifier", log_file=var_dir / "log" / "notifier.log", env={
        "HAVEN_VAR_DIR": str(var_dir), "HAVEN_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HAVEN_NOTIFIER_APP_ID": app_id, "HAVEN_NOTIFIER_SMTP_PORT": str(smtp.port),
        "HAVEN_NOTIFIER_SMS_GATEWAY_URL": http.url("/sms"),
        "HAVEN_NOTIFIER_SMS_GATEWAY_TOKEN": "test-token"})


def _terms_in_force(var_dir: Path, referral: str) -> tuple[int, str | None]:
    """What the notifier holds for the referral: (granted, when its terms were set)."""
    path = var_dir / "notifier" / "log.sqlite3"
    if not path.exists():
        return 0, None
    with sqlite3.connect(path) as db:
        row = db.execute("select granted, terms_set_at from notifier_contact "
                         "where referral_id = ?", (referral,)).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


@pytest.fixture
def partners() -> Iterator[tuple[SmtpStandIn, HttpStandIn]]:
    with SmtpStandIn() as smtp, HttpStandIn() as http:
        yield smtp, http


def test_a_placement_after_consent_given_again_reaches_only_the_new_address_once(
        kafka_broker: KafkaSettings, tmp_path: Path,
        partners: tuple[SmtpStandIn, HttpStandIn]) -> None:
    smtp, http = partners
    canaries = Canaries.fresh()  # the old number and the new e-mail address
    notifier = _notifier(tmp_path, kafka_broker, smtp, http)
    intake = IntakeUnderTest(tmp_path, kafka_broker.bootstrap_servers)
    errors: list[str] = []
    try:
        notifier.wait_for_log("Worker ready", timeout_s=90)
        intake.start()
        headers = {"Authorization": f"Bearer {intake.token()}"}
        submitted = httpx.post(f"{intake.url}/api/v1/referrals", headers=headers,
                               json=referral_body(
            contact={"name": canaries.name, "phone": canaries.phone},
            consent={"share_profile": {"granted": True, "expires_at": "2099-01-01T00:00:00Z"},
                     "contact_survivor": {"granted": True, "expires_at": "2099-01-01T00:00:00Z",
                                          "channel": "sms", "hours": ALL_DAY},
                     "explained_right_to_revoke": True}))
        assert submitted.status_code == 201, submitted.text
        referral = submitted.json()["id"]
        consent = f"{intake.url}/api/v1/referrals/{referral}/consent"
        assert wait_until(lambda: _terms_in_force(tmp_path, referral)[1] is not None, 60), (
            notifier.tail())
        first_set = _terms_in_force(tmp_path, referral)[1]
        withdrawn = httpx.post(consent, headers=headers,
                               json={"scope": "contact_survivor", "granted": False})
        assert withdrawn.status_code == 204, withdrawn.text
        refused = httpx.post(consent, headers=headers, json={
            "scope": "contact_survivor", "granted": True, "expires_at": "2099-01-01T00:00:00Z"})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "terms"
        bad = httpx.post(consent, headers=headers, json={
            "scope": "contact_survivor", "granted": True, "expires_at": "2099-01-01T00:00:00Z",
            "terms": {"channel": "email", "hours": ALL_DAY,
                      "contact": {"email": canaries.name}}})  # a name typed in the wrong field
        assert bad.status_code == 422
        errors += [refused.text, bad.text]
        granted = httpx.post(consent, headers=headers, json={
            "scope": "contact_survivor", "granted": True, "expires_at": "2099-01-01T00:00:00Z",
            "terms": {"channel": "email", "hours": ALL_DAY, "language": "nl",
                      "contact": {"email": canaries.email}}})
        assert granted.status_code == 204, granted.text
        assert wait_until(lambda: _terms_in_force(tmp_path, referral)[0] == 1
                          and _terms_in_force(tmp_path, referral)[1] not in (None, first_set),
                          60), notifier.tail()

        _place(tmp_path, kafka_broker, referral)
        assert wait_until(lambda: any(m.to == canaries.email for m in smtp.mails), 60), (
            notifier.tail())
        time.sleep(3)  # a second copy, or a text to the old number, would show up now
        to_new = [m for m in smtp.mails if m.to == canaries.email]
        assert len(to_new) == 1, smtp.mails
        assert "Er is nieuws voor je" in to_new[0].text  # the discreet words, in their language
        assert http.requests("/sms") == [], "nothing may go to the old number"
        assert all(canaries.phone not in m.to for m in smtp.mails)
    finally:
        if intake.process is not None:
            intake.process.stop()
        notifier.stop()
    leaks = found_in(every_record(kafka_broker.bootstrap_servers), canaries)
    leaks += found_in(every_file(tmp_path), canaries)
    leaks += found_in([("error response", e.encode()) for e in errors], canaries)
    assert leaks == []


def _place(var_dir: Path, kafka: KafkaSettings, referral: str) -> None:
    """Matching's word that the person has a place, sealed and signed as matching."""
    codec, _, _ = service_codec(MATCHING, source="/test/matching",
                                runtime=RuntimeSettings(var_dir=var_dir), kafka=kafka)
    publisher = EventPublisher(create_producer(kafka, client_id="test-regrant"), codec)
    try:
        for record in codec.encode_all(ReferralStatusChanged(
                referral_id=uuid.UUID(referral), status=ReferralStatus.PLACED,
                reason="provider_accepted", changed_at=datetime.now(UTC))):
            publisher.send(record)
        publisher.flush()
    finally:
        publisher.close()
