"""Helpers for the page tests: a TestClient per person, signed in through the sign-in page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from services.intake.offers import handlers as offers
from services.intake.pages import session as page_session
from services.intake.vault import Vault
from shared.events import OfferMade
from tests.support.intake import PASSWORD, Intake

CANARY_NAME = "CANARY-NAME-Pages"
FORM = {"needs": ["emergency_shelter", "legal_aid"], "urgency": "tonight", "age": "29",
        "gender_identity": "woman", "region": "north", "languages": "en, es",
        "dependents": "0", "contact_name": CANARY_NAME, "contact_phone": "+00 111 222 333",
        "consent_profile": "on", "consent_contact": "on", "explained": "on"}


def browser(intake: Intake, member: str) -> tuple[TestClient, str]:
    """A client with its own cookie jar, signed in through the page; returns its CSRF token."""
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    page = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    signed = client.post("/sign-in", data={"username": intake.members[member].username,
                                           "password": PASSWORD, "csrf": csrf.group(1)},
                         follow_redirects=False)
    assert signed.status_code == 303, signed.text
    value = client.cookies.get(page_session.COOKIE)
    viewer = page_session.decode(value, secret=intake.client.app.state.token_secret)  # type: ignore[attr-defined]
    return client, viewer.csrf


def engine(intake: Intake) -> Engine:
    found: Engine = intake.client.app.state.engine  # type: ignore[attr-defined]
    return found


def vault(intake: Intake) -> Vault:
    """The app's own vault (what its background threads open sealed rows with)."""
    found: Vault = intake.client.app.state.ports.vault  # type: ignore[attr-defined]
    return found


def submit(client: TestClient, csrf: str, **changes: object) -> str:
    answer = client.post("/outreach/referrals", data={**FORM, "csrf": csrf, **changes},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[-1]




def offer_for(intake: Intake, referral: str) -> str:
    """An open offer to the test provider, as the projector records matching's OfferMade."""
    made = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                     organization_id=intake.members["provider"].organization_id,
                     service_id=uuid.uuid4(), rank=1,
                     expires_at=datetime.now(UTC) + timedelta(hours=2),
                     explanation=["met every eligibility rule", "language_fit: +3.00"])
    with Session(engine(intake)) as session:
        offers.offer_made(session, made)
        session.commit()
    return str(made.offer_id)
