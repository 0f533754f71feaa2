"""Concurrent submitters and answerers: every event in the outbox has every reader's grant.

FastAPI runs intake's endpoints on a thread pool; encoding once shared one list of
pending grants between threads, so overlapping requests committed each other's
grants (or none), some got a spurious 409, and their events could never be opened.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from services.intake.models import OutboxMessage
from services.intake.offers import handlers
from shared import topics
from shared.crypto import grant_ids
from shared.events import OfferMade
from shared.protection import SEALED_CONTENT_TYPE
from shared.recipients import INTAKE, MATCHING, NOTIFIER
from tests.support.intake import Intake, referral_body

SUBMITTERS, ANSWERERS, PER_THREAD = 4, 3, 8
SEALED = SEALED_CONTENT_TYPE.encode()


def _seed_offers(intake: Intake, count: int) -> list[str]:
    """Offers as matching's events would project them, for the answerers to decline."""
    offers = []
    for _ in range(count):
        created = intake.client.post("/api/v1/referrals", json=referral_body(),
                                     headers=intake.members["outreach"].headers)
        assert created.status_code == 201, created.text
        made = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(created.json()["id"]),
                         organization_id=intake.members["provider"].organization_id,
                         service_id=uuid.uuid4(), rank=1,
                         expires_at=datetime.now(UTC) + timedelta(hours=2),
                         explanation=["met every eligibility rule"])
        with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
            handlers.offer_made(session, made)
            session.commit()
        offers.append(str(made.offer_id))
    return offers


def _missing_grants(intake: Intake) -> list[str]:
    """Each sealed event whose outbox lacks a grant one of its service readers needs."""
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(OutboxMessage)).all()
    grants = {row.key.decode() for row in rows if row.topic == topics.REFERRAL_KEYS.name}
    missing = []
    for row in rows:
        content_type = base64.b64decode(dict(row.headers).get("content-type", ""))
        if row.topic == topics.REFERRAL_KEYS.name or content_type != SEALED:
            continue
        referral = row.key.decode()
        for reader in (INTAKE, MATCHING, NOTIFIER):
            for grant_id in grant_ids(row.value, reader):
                if f"{referral}/{reader}/{grant_id.hex()}" not in grants:
                    missing.append(f"{row.topic} {row.event_id}: {reader}")
    return missing


@pytest.mark.slow
def test_concurrent_submissions_and_answers_keep_every_readers_grant(intake: Intake) -> None:
    offers = _seed_offers(intake, ANSWERERS * PER_THREAD)
    start = threading.Barrier(SUBMITTERS + ANSWERERS)
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def note(kind: str, status: int) -> None:
        with lock:
            answers[f"{kind} {status}"] += 1

    def submit() -> None:
        start.wait()
        for _ in range(PER_THREAD):
            answer = intake.client.post("/api/v1/referrals", json=referral_body(),
                                        headers=intake.members["outreach"].headers)
            note("submit", answer.status_code)

    def decline(mine: list[str]) -> None:
        start.wait()
        for offer in mine:
            answer = intake.client.post(f"/api/v1/offers/{offer}/decline",
                                        json={"reason": "at_capacity"},
                                        headers=intake.members["provider"].headers)
            note("decline", answer.status_code)

    threads = [threading.Thread(target=submit) for _ in range(SUBMITTERS)]
    threads += [threading.Thread(target=decline, args=(offers[i::ANSWERERS],))
                for i in range(ANSWERERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == Counter({"submit 201": SUBMITTERS * PER_THREAD,
                               "decline 200": ANSWERERS * PER_THREAD}), answers
    assert _missing_grants(intake) == []
