"""The audit trail: each use case leaves exactly its entries, ids only, readable by admins alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from services.intake import handlers
from services.intake.models import AuditEntry, Referral, User
from services.intake.offers import handlers as offers
from shared.events import OfferClosed, OfferMade
from tests.support.canary import Canaries, found_in
from tests.support.intake import PASSWORD, Intake, referral_body
from tests.support.pages import CANARY_NAME, browser, engine, submit


def _entries(intake: Intake, subject: str | uuid.UUID) -> list[tuple[str, str, str]]:
    """(action, role, subject type) of the subject's entries, oldest first."""
    with Session(engine(intake)) as session:
        rows = session.exec(select(AuditEntry).where(
            AuditEntry.subject_id == uuid.UUID(str(subject))).order_by(col(AuditEntry.id))).all()
    return [(row.action, row.role, row.subject_type) for row in rows]


def _user_id(intake: Intake, member: str) -> uuid.UUID:
    with Session(engine(intake)) as session:
        user = session.exec(select(User).where(
            User.username == intake.members[member].username)).one()
    return user.id


def _submit(intake: Intake, **overrides: object) -> str:
    created = intake.client.post("/api/v1/referrals", json=referral_body(**overrides),
                                 headers=intake.members["outreach"].headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _offer(intake: Intake, referral: str) -> str:
    """An open offer to the test provider, as the projector records matching's OfferMade."""
    made = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                     organization_id=intake.members["provider"].organization_id,
                     service_id=uuid.uuid4(), rank=1,
                     expires_at=datetime.now(UTC) + timedelta(hours=2), explanation=[])
    with Session(engine(intake)) as session:
        offers.offer_made(session, made)
        session.commit()
    return str(made.offer_id)


def _matching_confirms(intake: Intake, referral: str, offer: str) -> None:
    """What the projector does with matching's OfferClosed(accepted)."""
    with Session(engine(intake)) as session:
        offers.offer_closed(session, OfferClosed(
            offer_id=uuid.UUID(offer), referral_id=uuid.UUID(referral),
            organization_id=intake.members["provider"].organization_id,
            service_id=uuid.uuid4(), outcome="accepted", reason="",
            closed_at=datetime.now(UTC)))
        session.commit()


OUTREACH = "outreach_worker"
STAFF = "provider_staff"


def test_a_referrals_life_is_on_record_and_stays_after_erasure(intake: Intake) -> None:
    outreach = intake.members["outreach"].headers
    referral = _submit(intake)
    assert _entries(intake, referral) == [("referral.submitted", OUTREACH, "referral")]
    assert intake.client.get(f"/api/v1/referrals/{referral}", headers=outreach).status_code == 200
    consent = intake.client.post(f"/api/v1/referrals/{referral}/consent", headers=outreach,
                                 json={"scope": "share_contact", "granted": False})
    assert consent.status_code == 204
    assert intake.client.post(f"/api/v1/referrals/{referral}/erase",
                              headers=outreach).status_code == 204
    refused = intake.client.post(f"/api/v1/referrals/{referral}/consent", headers=outreach,
                                 json={"scope": "share_profile", "granted": False})
    assert refused.status_code == 409  # refused: nothing changed, so nothing on record
    assert _entries(intake, referral) == [
        ("referral.submitted", OUTREACH, "referral"), ("referral.viewed", OUTREACH, "referral"),
        ("consent.changed", OUTREACH, "referral"), ("referral.erased", OUTREACH, "referral")]
    with Session(engine(intake)) as session:
        rows = session.exec(select(AuditEntry).where(
            AuditEntry.subject_id == uuid.UUID(referral))).all()
    assert {row.actor_id for row in rows} == {_user_id(intake, "outreach")}
    assert {row.organization_id for row in rows} == {intake.members["outreach"].organization_id}
    other = intake.client.get(f"/api/v1/referrals/{referral}",
                              headers=intake.members["other_outreach"].headers)
    assert other.status_code == 404 and len(_entries(intake, referral)) == 4


def test_offer_answers_contact_and_the_persons_say(intake: Intake) -> None:
    staff, outreach = intake.members["provider"].headers, intake.members["outreach"].headers
    referral = _submit(intake)
    declined, accepted = _offer(intake, referral), _offer(intake, referral)
    intake.client.post(f"/api/v1/offers/{declined}/decline", headers=staff,
                       json={"reason": "at_capacity"})
    intake.client.post(f"/api/v1/offers/{accepted}/accept", headers=staff)
    intake.client.get(f"/api/v1/offers/{accepted}", headers=staff)
    assert _entries(intake, declined) == [("offer.declined", STAFF, "offer")]
    assert _entries(intake, accepted) == [("offer.accepted", STAFF, "offer")]
    assert ("contact.viewed", STAFF, "referral") not in _entries(intake, referral), (
        "no contact before matching confirms, so no access")
    _matching_confirms(intake, referral, accepted)
    shown = intake.client.get(f"/api/v1/offers/{accepted}", headers=staff).json()
    assert shown["contact"] is not None
    assert _entries(intake, referral).count(("contact.viewed", STAFF, "referral")) == 1
    second = _submit(intake)
    chosen, refused = _offer(intake, second), _offer(intake, second)
    for offer in (chosen, refused):
        intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    with Session(engine(intake)) as session:  # what the projector does with matching's status
        row = session.get(Referral, uuid.UUID(second))
        assert row is not None
        row.status = "accepted"
        session.add(row)
        session.commit()
    no = intake.client.post(f"/api/v1/referrals/{second}/decline-placement", headers=outreach,
                            json={"offer_id": refused, "reason": "location_not_safe"})
    yes = intake.client.post(f"/api/v1/referrals/{second}/choose", headers=outreach,
                             json={"offer_id": chosen})
    assert (no.status_code, yes.status_code) == (204, 204)
    assert _entries(intake, refused)[-1] == ("placement.declined", OUTREACH, "offer")
    assert _entries(intake, chosen)[-1] == ("placement.chosen", OUTREACH, "offer")


def test_capacity_updates_and_onboarding_are_on_record(intake: Intake) -> None:
    staff, admin = intake.members["provider"].headers, intake.members["admin"].headers
    location = intake.client.post("/api/v1/locations", headers=staff, json={
        "name": "Audit location", "region": "north", "latitude": 52.0, "longitude": 5.0})
    service = intake.client.post("/api/v1/services", headers=staff, json={
        "name": "Audit shelter", "service_type": "emergency_shelter",
        "location_id": location.json()["id"]}).json()["id"]
    path = f"/api/v1/services/{service}/capacity"
    assert intake.client.put(path, headers=staff, json={"available": 2, "maximum": 6}).is_success
    assert intake.client.post(f"{path}/change", headers=staff, json={"change": -1}).is_success
    assert intake.client.post(f"{path}/confirm", headers=staff).is_success
    assert _entries(intake, service) == [("capacity.updated", STAFF, "service")] * 3
    organization = intake.client.post("/api/v1/admin/organizations", headers=admin, json={
        "name": f"Audit org {uuid.uuid4().hex[:6]}", "kind": "provider", "region": "north"})
    user = intake.client.post("/api/v1/admin/users", headers=admin, json={
        "organization_id": organization.json()["id"], "username": f"a-{uuid.uuid4().hex[:6]}",
        "display_name": "CANARY-NAME-Admin", "role": "provider_staff", "password": PASSWORD})
    assert user.status_code == 201, user.text
    admin_role = "network_admin"
    assert _entries(intake, organization.json()["id"]) == [
        ("admin.organization_created", admin_role, "organization")]
    assert _entries(intake, user.json()["id"]) == [("admin.user_created", admin_role, "user")]


def test_sign_in_success_and_failure_are_on_record(intake: Intake) -> None:
    member = intake.members["provider"]
    user = _user_id(intake, "provider")
    before = len(_entries(intake, user))
    wrong = intake.client.post("/api/v1/auth/token",
                               data={"username": member.username, "password": "not-it-at-all"})
    unknown_name = f"nobody-{uuid.uuid4().hex[:6]}"
    unknown = intake.client.post("/api/v1/auth/token",
                                 data={"username": unknown_name, "password": "whatever"})
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    intake.sign_in(member)
    assert _entries(intake, user)[before:] == [("sign_in.failed", "", "user"),
                                               ("sign_in.succeeded", STAFF, "user")]
    with Session(engine(intake)) as session:
        anonymous = session.exec(select(AuditEntry).where(
            AuditEntry.action == "sign_in.failed",
            col(AuditEntry.subject_id).is_(None))).all()
    assert anonymous and all(row.actor_id is None for row in anonymous)
    assert all(unknown_name not in repr(row) for row in anonymous)


@pytest.mark.parametrize("member", ["outreach", "provider"])
def test_only_admins_read_the_trail(intake: Intake, member: str) -> None:
    answer = intake.client.get("/api/v1/admin/audit", headers=intake.members[member].headers)
    assert answer.status_code == 403
    client, _ = browser(intake, member)
    assert client.get("/admin/audit").status_code == 403


def test_filters_and_pages(intake: Intake) -> None:
    admin = intake.members["admin"].headers
    start = datetime.now(UTC) - timedelta(seconds=1)
    referral = _submit(intake)
    intake.client.get(f"/api/v1/referrals/{referral}", headers=intake.members["outreach"].headers)

    def get(**params: object) -> list[dict[str, object]]:
        answer = intake.client.get("/api/v1/admin/audit", headers=admin, params=params)
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, object]] = answer.json()["entries"]
        return entries

    mine = get(subject_id=referral)
    assert [e["action"] for e in mine] == ["referral.viewed", "referral.submitted"]
    assert [e["action"] for e in get(subject_id=referral, action="referral.viewed")] == [
        "referral.viewed"]
    outreach_org = str(intake.members["outreach"].organization_id)
    assert {e["organization_id"] for e in get(organization_id=outreach_org, limit=500)} == {
        outreach_org}
    recent = get(since=start.isoformat(), limit=500)
    assert {e["id"] for e in mine} <= {e["id"] for e in recent}
    assert get(since=(datetime.now(UTC) + timedelta(days=1)).isoformat()) == []
    first = intake.client.get("/api/v1/admin/audit", headers=admin, params={"limit": 1}).json()
    older = get(limit=1, offset=first["next_offset"])
    assert first["next_offset"] == 1 and older[0]["id"] < first["entries"][0]["id"]
    for bad in ({"limit": 501}, {"limit": 0}, {"action": "referral.eaten"},
                {"since": "2026-01-01T00:00:00"}, {"subject_id": "not-an-id"}):
        refused = intake.client.get("/api/v1/admin/audit", headers=admin, params=bad)
        assert refused.status_code == 422, (bad, refused.text)


def test_no_personal_data_in_any_entry(intake: Intake) -> None:
    canaries = Canaries.fresh()
    staff = intake.members["provider"].headers
    referral = _submit(intake, contact={"name": canaries.name, "phone": canaries.phone,
                                        "email": canaries.email})
    intake.client.get(f"/api/v1/referrals/{referral}", headers=intake.members["outreach"].headers)
    offer = _offer(intake, referral)
    intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    _matching_confirms(intake, referral, offer)
    shown = intake.client.get(f"/api/v1/offers/{offer}", headers=staff).json()
    assert shown["contact"]["name"] == canaries.name, "the canary was really read"
    assert ("contact.viewed", STAFF, "referral") in _entries(intake, referral)
    with Session(engine(intake)) as session:
        rows = session.exec(select(AuditEntry)).all()
    blobs = [(f"entry {row.id}", row.model_dump_json().encode()) for row in rows]
    assert len(blobs) > 5
    assert found_in(blobs, canaries) == []
    assert not [label for label, blob in blobs if b"CANARY" in blob]
    assert not [label for label, blob in blobs
                if intake.members["provider"].username.encode() in blob]


def test_the_page_lists_and_filters_for_an_admin(intake: Intake) -> None:
    referral = _submit(intake)
    admin, _ = browser(intake, "admin")
    page = admin.get("/admin/audit")
    assert page.status_code == 200 and "<title>" in page.text
    assert 'data-action="referral.submitted"' in page.text and "Referral submitted" in page.text
    assert page.headers["cache-control"] == "no-store"
    one = admin.get("/admin/audit", params={"subject_id": referral})
    assert one.status_code == 200 and one.text.count("<tr data-action=") == 1
    bad = admin.get("/admin/audit", params={"subject_id": "x", "since": "yesterday"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text and "Enter an id" in bad.text
    later = admin.get("/admin/audit", params={"since": "2999-01-01"})
    assert later.status_code == 200 and "No entries match" in later.text


def test_the_pages_record_the_same_as_the_api(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    referral = submit(outreach, csrf)
    assert outreach.get(f"/outreach/referrals/{referral}").status_code == 200
    offer = _offer(intake, referral)
    staff, staff_csrf = browser(intake, "provider")
    accepted = staff.post(f"/provider/offers/{offer}/answer", follow_redirects=False,
                          data={"csrf": staff_csrf, "decision": "accept"})
    assert accepted.status_code == 303, accepted.text
    _matching_confirms(intake, referral, offer)
    assert CANARY_NAME in staff.get("/provider/offers").text
    assert _entries(intake, referral) == [
        ("referral.submitted", OUTREACH, "referral"), ("referral.viewed", OUTREACH, "referral"),
        ("contact.viewed", STAFF, "referral")]
    assert _entries(intake, offer) == [("offer.accepted", STAFF, "offer")]


def test_retention_erasure_is_on_record_without_an_actor(intake: Intake) -> None:
    """Last in the module: it erases every referral whose retention ends within a century."""
    referral = _submit(intake)
    with Session(engine(intake)) as session:
        erased = handlers.erase_expired(session=session,
                                        ports=intake.client.app.state.ports,  # type: ignore[attr-defined]
                                        now=datetime.now(UTC) + timedelta(days=36500))
        session.commit()
        [entry] = session.exec(select(AuditEntry).where(
            AuditEntry.subject_id == uuid.UUID(referral),
            AuditEntry.action == "referral.erased")).all()
    assert erased >= 1
    assert (entry.actor_id, entry.organization_id, entry.role) == (None, None, "")
