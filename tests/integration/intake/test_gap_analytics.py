"""Gap analytics: which hard rule leaves people without a place, projected from matching's
status events, with every small group hidden."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session

from services.intake import read_models
from services.intake.pages import dashboard
from shared.envelope import CloudEvent
from shared.events import ReferralStatusChanged
from shared.events.vocabulary import ReferralStatus
from shared.records import Envelope, RecordCodec
from tests.support.intake import Intake
from tests.support.pages import browser, engine, submit


def _project(intake: Intake, event: ReferralStatusChanged) -> None:
    """What intake's projector does with a status event from matching."""
    record = RecordCodec(source="/haven/matching").encode(event)
    with Session(engine(intake)) as session:
        assert read_models.apply(session, Envelope(CloudEvent.from_headers(record.headers),
                                                   event))
        session.commit()


def test_the_rule_that_excluded_most_services_is_counted_and_small_groups_hidden(
        intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    for rule, how_many in (("gender", 6), ("pets", 2)):
        for _ in range(how_many):
            _project(intake, ReferralStatusChanged(
                referral_id=uuid.UUID(submit(outreach, csrf)), status=ReferralStatus.RETURNED,
                reason="no_match", changed_at=datetime.now(UTC), excluded_by=rule))
    with Session(engine(intake)) as session:
        counts = dict(dashboard.gaps(session, intake.client.app.state.ports)["excluded_by"])
    assert counts["gender"] is not None and counts["gender"] >= 6
    assert counts["pets"] is None, "two people could be singled out: hidden"
    admin, _ = browser(intake, "admin")
    page = admin.get("/admin").text
    assert "By the rule that excluded the most services" in page
    assert 'data-group="excluded_by"' in page
