"""The in-app inbox through FastAPI's TestClient, on SQLite and PostgreSQL.

Messages arrive as the projector applies the notifier's InboxMessagePosted
(`read_models.apply`); the broker path is in test_inbox_broker.py. Each
organization sees its own messages only, newest first, and marks them read
with a CSRF-protected form; erasure takes a referral's messages away.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from services.intake import read_models
from services.intake.inbox import handlers as inbox
from services.intake.inbox.models import InboxMessage
from shared.envelope import CloudEvent
from shared.events import InboxMessagePosted
from shared.records import Envelope
from tests.support.intake import Intake, referral_body
from tests.support.pages import CANARY_NAME, browser, engine, offer_for


def _referral(intake: Intake) -> str:
    created = intake.client.post("/api/v1/referrals", json=referral_body(),
                                 headers=intake.members["outreach"].headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _post(intake: Intake, referral: str, member: str, *, title: str = "",
          body: str = "Haven is offering it to the next suitable provider.",
          notification_id: str | None = None, minutes_ago: int = 0) -> InboxMessagePosted:
    """What the projector does with the notifier's event: through read_models.apply."""
    event = InboxMessagePosted(
        notification_id=notification_id or f"ntf-{uuid.uuid4().hex}",
        referral_id=uuid.UUID(referral),
        organization_id=intake.members[member].organization_id,
        title=title or f"Message {uuid.uuid4().hex[:8]}", body=body,
        posted_at=datetime.now(UTC) - timedelta(minutes=minutes_ago))
    envelope = Envelope(CloudEvent(type=event.event_type, source="/haven/notifier",
                                   subject=str(event.referral_id)), event)
    with Session(engine(intake)) as session:
        read_models.apply(session, envelope)
        session.commit()
    return event


def _stored(intake: Intake, notification_id: str) -> InboxMessage | None:
    with Session(engine(intake)) as session:
        return session.exec(select(InboxMessage).where(
            InboxMessage.notification_id == notification_id)).first()


def _card(page: str, message: uuid.UUID) -> str:
    start = page.index(f'id="message-{message}"')
    return page[start:].split('<li class="card')[0]


def test_each_organization_sees_its_own_messages_newest_first_with_links(
        intake: Intake) -> None:
    referral = _referral(intake)
    offer = offer_for(intake, referral)
    older = _post(intake, referral, "provider", title="New referral offer (older)",
                  minutes_ago=5)
    newer = _post(intake, referral, "provider", title="Reminder: the offer expires soon")
    mine = _post(intake, referral, "outreach", title="Your referral was offered to a provider")
    staff, _ = browser(intake, "provider")
    page = staff.get("/inbox")
    assert page.status_code == 200
    assert page.text.index(newer.title) < page.text.index(older.title), "newest first"
    assert mine.title not in page.text, "another organization's message"
    stored = _stored(intake, newer.notification_id)
    assert stored is not None
    card = _card(page.text, stored.id)
    assert "New" in card and f'href="/provider/offers#offer-{offer}"' in card
    assert "Mark as read" in card
    outreach, _ = browser(intake, "outreach")
    theirs = outreach.get("/inbox").text
    assert mine.title in theirs and newer.title not in theirs
    assert f'href="/outreach/referrals/{referral}"' in theirs
    other, _ = browser(intake, "other_outreach")
    elsewhere = other.get("/inbox").text
    assert mine.title not in elsewhere and newer.title not in elsewhere


def test_the_menu_counts_unread_messages_and_mark_as_read_needs_the_csrf_token(
        intake: Intake) -> None:
    referral = _referral(intake)
    event = _post(intake, referral, "provider", title="Please read me")
    stored = _stored(intake, event.notification_id)
    assert stored is not None
    staff, csrf = browser(intake, "provider")
    with Session(engine(intake)) as session:
        before = inbox.unread_count(session=session,
                                    organization_id=intake.members["provider"].organization_id)
    menu = staff.get("/provider/offers").text
    assert re.search(rf'href="/inbox">Inbox <span class="count">{before}<', menu), menu
    refused = staff.post(f"/inbox/{stored.id}/read", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert _stored(intake, event.notification_id).read_at is None  # type: ignore[union-attr]
    done = staff.post(f"/inbox/{stored.id}/read", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/inbox#message-{stored.id}"
    first = _stored(intake, event.notification_id)
    assert first is not None and first.read_at is not None
    again = staff.post(f"/inbox/{stored.id}/read", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 303
    assert _stored(intake, event.notification_id).read_at == first.read_at  # type: ignore[union-attr]
    page = staff.get("/inbox").text
    assert "Mark as read" not in _card(page, stored.id)
    expected = f'<span class="count">{before - 1}<' if before > 1 else 'href="/inbox">Inbox</a>'
    assert expected in page


def test_nobody_marks_or_reads_another_organizations_message(intake: Intake) -> None:
    referral = _referral(intake)
    event = _post(intake, referral, "provider", title="For the provider only")
    stored = _stored(intake, event.notification_id)
    assert stored is not None
    other, other_csrf = browser(intake, "other_outreach")
    assert other.post(f"/inbox/{stored.id}/read", data={"csrf": other_csrf}).status_code == 404
    assert other.post("/inbox/not-an-id/read", data={"csrf": other_csrf}).status_code == 404
    api = intake.client.post(f"/api/v1/inbox/{stored.id}/read",
                             headers=intake.members["outreach"].headers)
    assert api.status_code == 404
    assert _stored(intake, event.notification_id).read_at is None  # type: ignore[union-attr]
    admin, _ = browser(intake, "admin")
    assert admin.get("/inbox").status_code == 403
    assert intake.client.get("/api/v1/inbox",
                             headers=intake.members["admin"].headers).status_code == 403
    assert intake.client.get("/api/v1/inbox").status_code == 401


def test_the_api_lists_own_messages_and_marks_them_read(intake: Intake) -> None:
    referral = _referral(intake)
    event = _post(intake, referral, "outreach", title="Your referral is on a waiting list")
    provider = _post(intake, referral, "provider", title="Not for outreach")
    headers = intake.members["outreach"].headers
    listed = intake.client.get("/api/v1/inbox", headers=headers).json()
    found = [m for m in listed if m["title"] == event.title]
    assert len(found) == 1 and found[0]["read_at"] is None
    assert found[0]["link"] == f"/outreach/referrals/{referral}"
    assert provider.title not in {m["title"] for m in listed}
    assert [m["posted_at"] for m in listed] == sorted((m["posted_at"] for m in listed),
                                                      reverse=True)
    read = intake.client.post(f"/api/v1/inbox/{found[0]['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = intake.client.get("/api/v1/inbox?unread=true", headers=headers).json()
    assert event.title not in {m["title"] for m in unread}
    assert intake.client.post(f"/api/v1/inbox/{uuid.uuid4()}/read",
                              headers=headers).status_code == 404


def test_a_redelivered_event_posts_nothing_twice(intake: Intake) -> None:
    referral = _referral(intake)
    event = _post(intake, referral, "provider")
    again = _post(intake, referral, "provider", notification_id=event.notification_id,
                  title="The same notification, sent again")
    with Session(engine(intake)) as session:
        rows = session.exec(select(InboxMessage).where(
            InboxMessage.notification_id == event.notification_id)).all()
    assert [row.title for row in rows] == [event.title]
    assert again.title not in {row.title for row in rows}


def test_erasure_deletes_the_referrals_messages_and_keeps_out_late_ones(
        intake: Intake) -> None:
    referral = _referral(intake)
    kept = _referral(intake)
    gone = [_post(intake, referral, member) for member in ("provider", "outreach")]
    other = _post(intake, kept, "provider")
    erased = intake.client.post(f"/api/v1/referrals/{referral}/erase",
                                headers=intake.members["outreach"].headers)
    assert erased.status_code == 204
    assert all(_stored(intake, event.notification_id) is None for event in gone)
    assert _stored(intake, other.notification_id) is not None
    late = _post(intake, referral, "provider")  # the notifier had not heard of the erasure
    assert _stored(intake, late.notification_id) is None
    staff, _ = browser(intake, "provider")
    page = staff.get("/inbox").text
    assert all(event.title not in page for event in [*gone, late])


def test_the_page_is_safe_text_uncached_and_names_no_person(intake: Intake) -> None:
    referral = _referral(intake)
    _post(intake, referral, "provider", title="<script>alert(1)</script>",
          body="Line one\n<b>not bold</b>")
    staff, _ = browser(intake, "provider")
    page = staff.get("/inbox")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<title>Inbox · Haven</title>" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page.text
    assert CANARY_NAME not in page.text and "CANARY" not in page.text
