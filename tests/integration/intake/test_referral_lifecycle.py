"""Consent changes and erasure: recorded, announced through the outbox, and really erasing."""

from __future__ import annotations

import base64
import json
import uuid

from sqlmodel import Session, select

from services.intake.directory import regions
from services.intake.models import OutboxMessage, Referral
from services.intake.vault import ReferralDataKey
from tests.support.intake import Intake, referral_body
from tests.support.pages import FORM, browser

CANARY = b"CANARY-NAME-Zyx"


def _submit(intake: Intake) -> str:
    answer = intake.client.post("/api/v1/referrals", json=referral_body(),
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _outbox_types(intake: Intake, referral: str) -> list[str]:
    """Event types of the referral's events in the outbox, in order (grants have none)."""
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()  # type: ignore[arg-type]
    return [base64.b64decode(dict(row.headers)["ce_type"]).decode() for row in rows
            if row.key == referral.encode()]


def test_personal_data_is_sealed_at_rest_and_not_in_the_event(intake: Intake) -> None:
    referral = _submit(intake)
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        row = session.get(Referral, uuid.UUID(referral))
        assert row is not None and row.sealed_contact is not None
        assert CANARY not in row.sealed_contact and CANARY not in row.sealed_profile
        outbox = session.exec(select(OutboxMessage)).all()
    assert all(CANARY not in message.value for message in outbox)
    ours = [m for m in outbox if m.key.startswith(referral.encode())]
    # The submission (three readers), then the contact terms (notifier and intake only).
    assert [m.topic for m in ours] == (["referral.keys"] * 3 + ["referral.submitted"]
                                       + ["referral.keys"] * 2 + ["consent.contact_terms"])
    for event in (ours[3], ours[-1]):
        content_type = base64.b64decode(dict(event.headers)["content-type"])
        assert content_type == b"application/vnd.haven.sealed.v1"
    # The sample person agreed to SMS contact: the notifier gets the terms, sealed for it.
    assert _outbox_types(intake, referral) == ["org.haven.referral.submitted.v1",
                                               "org.haven.consent.contact_terms_set.v1"]


def test_withdrawing_consent_is_recorded_and_announced(intake: Intake) -> None:
    referral = _submit(intake)
    headers = intake.members["outreach"].headers
    answer = intake.client.post(f"/api/v1/referrals/{referral}/consent", headers=headers,
                                json={"scope": "share_contact", "granted": False})
    assert answer.status_code == 204, answer.text
    detail = intake.client.get(f"/api/v1/referrals/{referral}", headers=headers).json()
    assert detail["consents"]["share_contact"] is False
    assert detail["consents"]["share_profile"] is True
    assert [i["kind"] for i in detail["timeline"]] == ["submitted", "consent:withdrawn"]
    assert _outbox_types(intake, referral)[-1] == "org.haven.consent.changed.v1"


def test_erasure_destroys_the_key_and_is_announced(intake: Intake) -> None:
    referral = _submit(intake)
    headers = intake.members["outreach"].headers
    assert intake.client.post(f"/api/v1/referrals/{referral}/erase",
                              headers=headers).status_code == 204
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.get(ReferralDataKey, uuid.UUID(referral)) is None
    detail = intake.client.get(f"/api/v1/referrals/{referral}", headers=headers).json()
    assert detail["status"] == "erased"
    assert _outbox_types(intake, referral)[-1] == "org.haven.referral.erased.v1"
    again = intake.client.post(f"/api/v1/referrals/{referral}/consent", headers=headers,
                               json={"scope": "share_profile", "granted": False})
    assert again.status_code == 409


def test_retention_erases_referrals_whose_period_ended(intake: Intake) -> None:
    from datetime import UTC, datetime, timedelta

    from services.intake.handlers import erase_expired

    referral = uuid.UUID(_submit(intake))
    app = intake.client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        assert erase_expired(session=session, ports=app.state.ports,  # type: ignore[attr-defined]
                             now=datetime.now(UTC)) == 0
        later = datetime.now(UTC) + timedelta(days=181)
        assert erase_expired(session=session, ports=app.state.ports,  # type: ignore[attr-defined]
                             now=later) >= 1
        session.commit()
        row = session.get(Referral, referral)
        assert row is not None and row.erased_at is not None
        assert session.get(ReferralDataKey, referral) is None


class _LateGrants:
    """Stands in for the grant follower: one grant appeared after the erasure."""

    owner = "service:intake"

    def __init__(self, referral: str) -> None:
        self.referral = referral

    def grant_record_keys(self, referral: str) -> list[bytes]:
        return [f"{referral}/service:notifier/{'ab' * 16}".encode()] if (
            referral == self.referral) else []


def test_grants_that_race_an_erasure_are_swept(intake: Intake) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from services.intake.handlers import sweep_late_grants

    referral = _submit(intake)
    headers = intake.members["outreach"].headers
    assert intake.client.post(f"/api/v1/referrals/{referral}/erase",
                              headers=headers).status_code == 204
    app = intake.client.app
    ports = replace(app.state.ports, grants=_LateGrants(referral))  # type: ignore[attr-defined]
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        assert sweep_late_grants(session=session, ports=ports, now=datetime.now(UTC)) == 1
        session.commit()
        rows = session.exec(select(OutboxMessage)).all()
    late = [r for r in rows if r.key == f"{referral}/service:notifier/{'ab' * 16}".encode()]
    assert len(late) == 1 and late[0].value == b"" and late[0].topic == "referral.keys"


def test_a_distance_limit_is_measured_from_a_region_of_the_network(intake: Intake) -> None:
    """Issue 19, defect 2: intake gives matching the region's coarse centroid (from the
    directory's own locations, never an address); a distance limit in a region the network
    does not have cannot be honoured and is refused in plain words, not silently dropped."""
    region = f"test-{uuid.uuid4().hex[:6]}"
    admin, provider = intake.members["admin"], intake.members["provider"]
    for latitude, longitude in ((52.37, 4.89), (52.43, 4.71)):
        placed = intake.client.post(
            "/api/v1/locations", params={"organization_id": str(provider.organization_id)},
            headers=admin.headers, json={"name": "Test place", "region": region,
                                         "latitude": latitude, "longitude": longitude})
        assert placed.status_code == 201, placed.text
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert regions.network_regions(session=session)[region] == (52.4, 4.8)
    unknown = intake.client.post("/api/v1/referrals", headers=intake.members["outreach"].headers,
                                 json=referral_body(location={"region": "Amsterdam",
                                                              "max_distance_km": 20}))
    assert unknown.status_code == 422, unknown.text
    [problem] = unknown.json()["errors"]
    assert problem["field"] == "location.region" and region in problem["message"]
    assert "Amsterdam" not in unknown.text, "the value sent is not echoed"
    known = intake.client.post("/api/v1/referrals", headers=intake.members["outreach"].headers,
                               json=referral_body(location={"region": region,
                                                            "max_distance_km": 20}))
    assert known.status_code == 201, known.text
    page, csrf = browser(intake, "outreach")
    form = page.post("/outreach/referrals", data={**FORM, "csrf": csrf, "region": "amsterdam",
                                                  "distance": "20"})
    assert form.status_code == 422 and "not one of the network" in form.text


def test_the_centroid_is_coarse_and_the_same_for_everyone_in_the_region() -> None:
    assert regions.centroid([]) is None
    assert regions.centroid([(52.3712, 4.8957)]) == (52.4, 4.9)  # about 10 km, not a door
    assert regions.centroid([(52.37, 4.89), (52.43, 4.71)]) == (52.4, 4.8)


def test_the_region_is_one_of_the_networks(intake: Intake) -> None:
    """Issue 19, defect 7: "Amsterdam" where the network says `noord-holland` was accepted
    and never scored "same region". The region must be one of the directory's (any case
    is read as the network's own code); the form offers them."""
    region = f"Test-{uuid.uuid4().hex[:6]}".lower()
    placed = intake.client.post(
        "/api/v1/locations",
        params={"organization_id": str(intake.members["provider"].organization_id)},
        headers=intake.members["admin"].headers,
        json={"name": "Test place", "region": region, "latitude": 52.1, "longitude": 5.1})
    assert placed.status_code == 201, placed.text
    outreach = intake.members["outreach"].headers
    unknown = intake.client.post("/api/v1/referrals", headers=outreach,
                                 json=referral_body(location={"region": "Amsterdam"}))
    assert unknown.status_code == 422, unknown.text
    [problem] = unknown.json()["errors"]
    assert problem["field"] == "location.region" and region in problem["message"]
    shouted = intake.client.post("/api/v1/referrals", headers=outreach,
                                 json=referral_body(location={"region": region.upper()}))
    assert shouted.status_code == 201, shouted.text
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        stored = session.get(Referral, uuid.UUID(shouted.json()["id"]))
        assert stored is not None
        profile = json.loads(intake.client.app.state.ports.vault.open(  # type: ignore[attr-defined]
            session, stored.id, "profile", stored.sealed_profile))
    assert profile["location"]["region"] == region, "stored as the network's own code"
    page, _ = browser(intake, "outreach")
    form = page.get("/outreach/referrals/new").text
    assert f'<option value="{region}">' in form and '<option value="noord-holland">' not in form
