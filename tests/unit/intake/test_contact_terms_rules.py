"""Pure rules for contact terms: which address is used, what is refused, what stays private."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake.consent import CHANNEL_ADDRESS, ConsentProblem, resolve_terms
from services.intake.schemas import (
    ConsentChange,
    Contact,
    ContactAddress,
    ContactHours,
    ContactTerms,
    NewContactTerms,
)

HOURS = ContactHours(start=time(9), end=time(17), timezone="Europe/Amsterdam")
phones = st.none() | st.from_regex(r"\+00 [0-9]{9}", fullmatch=True)
emails = st.none() | st.from_regex(r"[a-z]{1,8}@example\.invalid", fullmatch=True)
contacts = st.none() | st.builds(ContactAddress, phone=phones, email=emails)


@given(channel=st.sampled_from(["sms", "email", "phone_call"]), given_contact=contacts,
       on_record=contacts)
def test_the_address_comes_from_the_first_contact_that_has_one_for_the_channel(
        channel: str, given_contact: ContactAddress | None,
        on_record: ContactAddress | None) -> None:
    terms = ContactTerms.model_validate({"channel": channel, "hours": HOURS})
    needed = CHANNEL_ADDRESS[channel]
    candidates = [getattr(c, needed) for c in (given_contact, on_record) if c is not None]
    expected = next((a for a in candidates if a is not None), None)
    if expected is None:
        with pytest.raises(ConsentProblem) as refused:
            resolve_terms(terms, given_contact, on_record, at="terms",
                          address_at="terms.contact")
        assert refused.value.field == f"terms.contact.{needed}"
        assert needed in str(refused.value)
        return
    resolved = resolve_terms(terms, given_contact, on_record, at="terms",
                             address_at="terms.contact")
    assert (resolved.channel, resolved.address) == (channel, expected)
    assert "address" not in resolved.without_address()
    assert expected not in str(resolved.without_address())


@pytest.mark.parametrize("terms", [{}, {"channel": "sms"}, {"hours": HOURS}])
def test_terms_without_channel_or_hours_say_what_is_missing(terms: dict[str, object]) -> None:
    with pytest.raises(ConsentProblem) as refused:
        resolve_terms(ContactTerms.model_validate(terms), Contact(phone="+00 000000001"),
                      at="terms", address_at="terms.contact")
    assert refused.value.field == "terms"
    assert "channel" in str(refused.value) and "hours" in str(refused.value)


def test_the_announcement_carries_the_terms_the_expiry_and_when_they_were_set() -> None:
    now, until = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC)
    terms = resolve_terms(ContactTerms(channel="email", hours=HOURS, language="nl",
                                       cover_story="Your gym"),
                          ContactAddress(email="someone@example.invalid"),
                          at="terms", address_at="terms.contact")
    referral = uuid.uuid4()
    event = terms.announcement(referral, expires_at=until, now=now)
    assert (event.referral_id, event.channel, event.address) == (
        referral, "email", "someone@example.invalid")
    assert (event.hours_start, event.hours_end, event.timezone) == (time(9), time(17),
                                                                    "Europe/Amsterdam")
    assert (event.language, event.cover_story, event.expires_at, event.set_at) == (
        "nl", "Your gym", until, now)


@pytest.mark.parametrize("body", [
    {"scope": "share_contact", "granted": True, "terms": {"channel": "sms"}},
    {"scope": "contact_survivor", "granted": False, "terms": {"channel": "sms"}},
])
def test_terms_only_go_with_granting_contact_consent(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ConsentChange.model_validate(body)


@given(st.dictionaries(st.sampled_from(["channel", "hours", "language", "contact", "voicemail_safe",
                                        "cover_story", "other"]),
                       st.none() | st.text(max_size=30) | st.booleans() | st.integers()))
def test_any_terms_body_is_either_valid_or_a_validation_error(body: dict[str, object]) -> None:
    try:
        parsed = NewContactTerms.model_validate(body)
    except ValidationError:
        return  # the API answers 422 with the field paths
    assert parsed.channel in (None, "sms", "email", "phone_call")
