"""The outreach worker's pages show each referral's short reference, the one outreach
messages quote (shared/references.py), so a message leads to its referral."""

from __future__ import annotations

import uuid

from tests.support.intake import Intake
from tests.support.pages import browser, submit


def test_the_list_and_the_referral_page_show_the_reference_messages_quote(
        intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    referral = submit(outreach, csrf)
    digits = uuid.UUID(referral).hex[:8].upper()
    reference = f"R-{digits[:4]}-{digits[4:]}"
    page = outreach.get(f"/outreach/referrals/{referral}").text
    assert f'<strong class="reference">{reference}</strong>' in page
    listed = outreach.get("/outreach/referrals").text
    assert f'<td class="reference">{reference}</td>' in listed
