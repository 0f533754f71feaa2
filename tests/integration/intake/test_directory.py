"""The directory API on SQLite and PostgreSQL: who may change what, and no lost updates."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.intake.accounts import create_user
from services.intake.directory.handlers import record_counts
from services.intake.directory.models import Capacity
from services.intake.models import OutboxMessage, Role
from shared import topics
from shared.events import CapacityCounted
from tests.support.intake import PASSWORD, Intake, Member

LOCATION = {"name": "Test shelter", "region": "north", "latitude": 52.3712,
            "longitude": 4.8957, "address_1": "Teststraat 1", "city": "Testdorp",
            "postal_code": "0000 XX", "confidential": True}


def _service_body(location_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Test emergency beds", "service_type": "emergency_shelter",
        "location_id": location_id, "unit": "bed",
        "eligibility": {"genders": ["woman"], "age_min": 18, "languages": ["ro", "en"],
                        "dependents_allowed": True},
        "schedules": [{"byday": "MO,TU,WE,TH,FR,SA,SU", "opens_at": "00:00",
                       "closes_at": "24:00"}],
        "contacts": [{"name": "Test Intake Desk", "email": "desk@example.org"}],
    }
    return body | overrides


def _new_service(intake: Intake, member: Member, organization_id: str | None = None) -> str:
    params = {"organization_id": organization_id} if organization_id else {}
    location = intake.client.post("/api/v1/locations", json=LOCATION, params=params,
                                  headers=member.headers)
    assert location.status_code == 201, location.text
    service = intake.client.post("/api/v1/services", params=params, headers=member.headers,
                                 json=_service_body(location.json()["id"]))
    assert service.status_code == 201, service.text
    return str(service.json()["id"])


def _capacity_events(intake: Intake, service_id: str) -> list[dict[str, Any]]:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.CAPACITY_UPDATES.name,
            OutboxMessage.key == service_id.encode()).order_by(col(OutboxMessage.id))).all()
    return [json.loads(row.value) for row in rows]  # in the order they were written


def test_staff_keep_their_service_and_capacity_current(intake: Intake) -> None:
    staff = intake.members["provider"]
    service_id = _new_service(intake, staff)
    fresh = intake.client.get(f"/api/v1/services/{service_id}/capacity", headers=staff.headers)
    assert fresh.json()["available"] == 0 and fresh.json()["unit"] == "bed"

    put = intake.client.put(f"/api/v1/services/{service_id}/capacity", headers=staff.headers,
                            json={"available": 3, "maximum": 8, "waitlist_length": 2})
    assert put.status_code == 200, put.text
    assert put.json() | {"updated_at": None, "confirmed_at": None} == {
        "service_id": service_id, "unit": "bed", "available": 3, "maximum": 8, "held": 0,
        "placed": 0, "open": 3, "open_now": 3, "counts_placements_through": 0,
        "waitlist_length": 2, "version": 2, "stale": False, "updated_at": None,
        "confirmed_at": None}
    taken = intake.client.post(f"/api/v1/services/{service_id}/capacity/change",
                               headers=staff.headers, json={"change": -1})
    assert taken.json()["available"] == 2 and taken.json()["version"] == 3
    events = _capacity_events(intake, service_id)
    assert [(e["available"], e["version"]) for e in events] == [(0, 1), (3, 2), (2, 3)]


def test_the_address_of_a_confidential_location_stays_in_its_organization(
        intake: Intake) -> None:
    service_id = _new_service(intake, intake.members["provider"])
    own = intake.client.get(f"/api/v1/services/{service_id}",
                            headers=intake.members["provider"].headers).json()["location"]
    other = intake.client.get(f"/api/v1/services/{service_id}",
                              headers=intake.members["outreach"].headers).json()["location"]
    assert own["address_1"] == "Teststraat 1" and own["latitude"] == 52.3712
    assert other["address_1"] is None and other["latitude"] is None
    assert "Teststraat" not in json.dumps(intake.client.get(
        "/api/v1/directory/hsds", headers=intake.members["outreach"].headers).json())


def test_nobody_changes_another_organizations_service(intake: Intake) -> None:
    admin, staff = intake.members["admin"], intake.members["provider"]
    elsewhere = _new_service(intake, admin, str(intake.members["other_outreach"].organization_id))
    for method, path, body in (
        ("PUT", "/capacity", {"available": 1, "maximum": 1}),
        ("POST", "/capacity/change", {"change": 1}),
        ("POST", "/capacity/confirm", None),
    ):
        answer = intake.client.request(method, f"/api/v1/services/{elsewhere}{path}",
                                       json=body, headers=staff.headers)
        assert answer.status_code == 403, (path, answer.text)
        assert "organization" in answer.json()["detail"]
    outreach = intake.client.put(f"/api/v1/services/{elsewhere}/capacity",
                                 json={"available": 1, "maximum": 1},
                                 headers=intake.members["outreach"].headers)
    assert outreach.status_code == 403
    created_for_other = intake.client.post(
        "/api/v1/locations", json=LOCATION, headers=staff.headers,
        params={"organization_id": str(intake.members["other_outreach"].organization_id)})
    assert created_for_other.status_code == 403


def test_capacity_changes_from_two_staff_members_at_once_are_all_counted(
        intake: Intake) -> None:
    first = intake.members["provider"]
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        user = create_user(session=session, organization_id=first.organization_id,
                           username=f"colleague-{uuid.uuid4().hex[:6]}",
                           display_name="Test colleague", role=Role.PROVIDER_STAFF,
                           password=PASSWORD)
        session.commit()
        second = intake.sign_in(Member(user.username, Role.PROVIDER_STAFF,
                                       first.organization_id))
    service_id = _new_service(intake, first)
    intake.client.put(f"/api/v1/services/{service_id}/capacity", headers=first.headers,
                      json={"available": 0, "maximum": 100})

    def take(member: Member) -> int:
        return intake.client.post(f"/api/v1/services/{service_id}/capacity/change",
                                  headers=member.headers, json={"change": 1}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(take, [first, second] * 20))
    assert codes == [200] * 40
    final = intake.client.get(f"/api/v1/services/{service_id}/capacity", headers=first.headers)
    assert final.json()["available"] == 40
    versions = sorted(e["version"] for e in _capacity_events(intake, service_id))
    assert versions == list(range(1, 43))  # created, set, then 40 changes: none lost or doubled


def test_a_stale_expected_version_gets_409_instead_of_overwriting(intake: Intake) -> None:
    staff = intake.members["provider"]
    service_id = _new_service(intake, staff)
    seen = intake.client.get(f"/api/v1/services/{service_id}/capacity",
                             headers=staff.headers).json()["version"]

    def put(available: int) -> int:
        return intake.client.put(f"/api/v1/services/{service_id}/capacity",
                                 headers=staff.headers,
                                 json={"available": available, "maximum": 10,
                                       "expected_version": seen}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(put, [1, 2, 3, 4]))
    assert codes == [200, 409, 409, 409]


def test_invalid_directory_input_gets_a_message_naming_the_field(intake: Intake) -> None:
    staff = intake.members["provider"]
    service_id = _new_service(intake, staff)
    location_id = intake.client.get(f"/api/v1/services/{service_id}",
                                    headers=staff.headers).json()["location"]["id"]
    cases = [
        ("PUT", f"/api/v1/services/{service_id}/capacity", {"available": 5, "maximum": 2},
         "available"),
        ("PUT", f"/api/v1/services/{service_id}/capacity", {"available": -1}, "available"),
        ("POST", f"/api/v1/services/{service_id}/capacity/change", {"change": 0}, "change"),
        ("POST", f"/api/v1/services/{service_id}/capacity/change", {"change": -5}, "change"),
        ("PUT", f"/api/v1/services/{service_id}",
         _service_body(location_id, eligibility={"genders": ["martian"]}), "eligibility"),
        ("PUT", f"/api/v1/services/{service_id}",
         _service_body(location_id, service_type="spa"), "service_type"),
        ("POST", "/api/v1/locations", LOCATION | {"latitude": 123}, "latitude"),
    ]
    for method, path, body, field in cases:
        answer = intake.client.request(method, path, json=body, headers=staff.headers)
        assert answer.status_code == 422, (path, body, answer.text)
        assert field in answer.text
        assert "martian" not in answer.text and "Traceback" not in answer.text


def test_stale_capacity_is_flagged_and_reminded_once(intake: Intake) -> None:
    from services.intake.directory.handlers import remind_stale

    staff = intake.members["provider"]
    service_id = _new_service(intake, staff)
    app = intake.client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        capacity = session.get(Capacity, uuid.UUID(service_id))
        assert capacity is not None
        capacity.confirmed_at = datetime.now(UTC) - timedelta(days=3)
        session.add(capacity)
        session.commit()
    assert intake.client.get(f"/api/v1/services/{service_id}/capacity",
                             headers=staff.headers).json()["stale"] is True
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        now, window = datetime.now(UTC), timedelta(hours=24)
        ports = app.state.ports  # type: ignore[attr-defined]
        first = remind_stale(session=session, ports=ports, now=now, stale_after=window)
        again = remind_stale(session=session, ports=ports, now=now, stale_after=window)
        session.commit()
        reminders = session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.CAPACITY_REMINDERS.name,
            OutboxMessage.key == service_id.encode())).all()
    assert first >= 1 and again == 0 and len(reminders) == 1
    confirmed = intake.client.post(f"/api/v1/services/{service_id}/capacity/confirm",
                                   headers=staff.headers)
    assert confirmed.json()["stale"] is False


def _counted(intake: Intake, service_id: str, *, held: int, pending: list[int],
             through: int, revision: int) -> bool:
    """What the projector does with matching's CapacityCounted (tested on the broker too)."""
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        applied = record_counts(session, CapacityCounted(
            service_id=uuid.UUID(service_id), held=held, pending=pending,
            placements_through=through, figure_version=2, revision=revision,
            counted_at=datetime.now(UTC)))
        session.commit()
    return applied


def test_havens_holds_and_placements_show_and_staff_figures_count_them_in(
        intake: Intake) -> None:
    """Issue 22: `held` and `placed` are real, and "still right" or +1 after Haven filled
    a service counts the placements in (it was a stale figure, or a 422 at the maximum)."""
    staff = intake.members["provider"]
    service_id = _new_service(intake, staff)
    url = f"/api/v1/services/{service_id}/capacity"
    intake.client.put(url, headers=staff.headers, json={"available": 2, "maximum": 2})
    assert _counted(intake, service_id, held=0, pending=[1, 2], through=2, revision=1)
    assert not _counted(intake, service_id, held=2, pending=[], through=0, revision=1)
    shown = intake.client.get(url, headers=staff.headers).json()
    assert (shown["available"], shown["placed"], shown["held"], shown["open"],
            shown["open_now"]) == (2, 2, 0, 0, 0)
    confirmed = intake.client.post(f"{url}/confirm", headers=staff.headers).json()
    assert (confirmed["available"], confirmed["placed"], confirmed["open"],
            confirmed["counts_placements_through"]) == (0, 0, 0, 2)
    freed = intake.client.post(f"{url}/change", headers=staff.headers, json={"change": 1})
    assert freed.status_code == 200, freed.text
    assert freed.json()["available"] == 1
    assert _counted(intake, service_id, held=1, pending=[3], through=3, revision=2)
    shown = intake.client.get(url, headers=staff.headers).json()
    assert (shown["placed"], shown["held"], shown["open"], shown["open_now"]) == (1, 1, 0, 0)
    full = intake.client.post(f"{url}/change", headers=staff.headers, json={"change": -1})
    assert full.status_code == 422 and "from 0 to -1" in full.json()["detail"]
    events = _capacity_events(intake, service_id)
    assert [(e["available"], e["counts_placements_through"]) for e in events[-3:]] == [
        (2, 0), (0, 2), (1, 2)]
