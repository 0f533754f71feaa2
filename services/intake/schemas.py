"""What the HTTP API accepts and returns. Table models never leave through a route."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Annotated, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.events.vocabulary import (
    Accessibility,
    ExploitationType,
    GenderIdentity,
    ImmigrationStatus,
    ServiceType,
    Urgency,
)

MaybeInstant = TypeVar("MaybeInstant", datetime, datetime | None)


def _representable_in_utc(value: MaybeInstant) -> MaybeInstant:
    """0001-01-01T00:00:00+14:00 is a valid datetime that has no UTC form: refuse it here
    (422) before a comparison or the database turns it into a server error."""
    if value is not None and value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as error:
            raise ValueError("this date and time lies outside the years 1 to 9999 once turned "
                             "into UTC; give a date within them") from error
    return value


Instant = Annotated[datetime, AfterValidator(_representable_in_utc)]
AwareInstant = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgeRange(Strict):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError("the lowest age must not be above the highest age")
        return self


class Eligibility(Strict):
    age: int | None = Field(default=None, ge=0, le=120, description="exact age, if known")
    age_range: AgeRange | None = Field(default=None, description="when only a range is known")
    gender_identity: GenderIdentity = GenderIdentity.NOT_SAID
    dependents: int = Field(default=0, ge=0, le=20, description="children coming along")
    # The pattern is stated for OpenAPI; the validator below gives the friendlier message.
    languages: list[str] = Field(default_factory=list, max_length=10, json_schema_extra={
        "items": {"type": "string", "pattern": "^[a-z]{2,3}$"}})
    exploitation_types: list[ExploitationType] = Field(default_factory=list, max_length=5)
    immigration_status: ImmigrationStatus = ImmigrationStatus.UNKNOWN
    accessibility: list[Accessibility] = Field(default_factory=list, max_length=4)
    pets: bool = False
    substance_use: bool = Field(default=False, description="uses alcohol or drugs now")

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()):
                raise ValueError("languages must be ISO 639 codes such as 'en' or 'nl'")
        return codes

    @model_validator(mode="after")
    def _one_age(self) -> Eligibility:
        if self.age is None and self.age_range is None:
            raise ValueError("give the person's age or an age range (a guess is fine)")
        return self


class LocationConstraints(Strict):
    region: str = Field(min_length=1, max_length=64)
    max_distance_km: int | None = Field(default=None, ge=1, le=5000)
    avoid_regions: list[str] = Field(default_factory=list, max_length=20)


# The rules for a phone number and an e-mail address, in one place for every form that asks.
Phone = Annotated[str | None, Field(default=None, max_length=40,
                                    pattern=r"^\+?[0-9 ()-]{5,40}$")]
Email = Annotated[str | None, Field(default=None, max_length=254,
                                    pattern=r"^[^@\s]+@[^@\s]+$")]


class Contact(Strict):
    """Optional: outreach often cannot collect these, and the referral goes ahead without."""

    name: str | None = Field(default=None, max_length=200)
    phone: Phone = None
    email: Email = None


class ContactAddress(Strict):
    """Where Haven may reach the person, when it differs from the contact details on record."""

    phone: Phone = None
    email: Email = None


class ScopeConsent(Strict):
    granted: bool = False
    expires_at: Instant | None = Field(default=None, description="required when granted")


class ContactHours(Strict):
    start: time
    end: time
    timezone: str = Field(max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if zone not in available_timezones():
            raise ValueError("use a time zone name such as 'Europe/Amsterdam'")
        return zone


SurvivorChannel = Literal["sms", "email", "phone_call"]


class ContactTerms(Strict):
    """How the person agreed to be contacted: asked at submission and again on every change.

    Channel and hours are optional here so that a missing one gets a consent rule's
    plain-word answer (consent.resolve_terms) rather than a bare "field required".
    """

    channel: SurvivorChannel | None = None
    hours: ContactHours | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    voicemail_safe: bool = False
    may_name_organization: bool = False
    cover_story: str | None = Field(default=None, max_length=200)


class SurvivorContactConsent(ContactTerms, ScopeConsent):
    """The contact-survivor scope at submission: the grant and its terms in one object."""


class NewContactTerms(ContactTerms):
    """Terms given after submission; without `contact`, the contact details on record are used."""

    contact: ContactAddress | None = Field(
        default=None, description="the phone (sms, phone_call) or e-mail (email) to use now")


class Consent(Strict):
    """Each scope separately; the referral is accepted whatever is (not) granted."""

    share_profile: ScopeConsent = ScopeConsent()
    share_contact: ScopeConsent = ScopeConsent()
    contact_survivor: SurvivorContactConsent = SurvivorContactConsent()
    retention_days: int = Field(default=180, ge=1, le=3650)
    explained_right_to_revoke: bool = Field(
        default=False, description="the person was told they can withdraw consent at any time")


class ReferralCreate(Strict):
    needs: list[ServiceType] = Field(min_length=1, max_length=12)
    urgency: Urgency
    eligibility: Eligibility
    location: LocationConstraints
    preferences: list[str] = Field(default_factory=list, max_length=20)
    contact: Contact | None = None
    consent: Consent = Consent()


class ReferralCreated(BaseModel):
    id: uuid.UUID
    status: str
    created_at: datetime


class ReferralSummary(BaseModel):
    id: uuid.UUID
    status: str
    urgency: str
    created_at: datetime
    updated_at: datetime


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    detail: str


class ReferralDetail(ReferralSummary):
    timeline: list[TimelineItem]
    consents: dict[str, bool]


class ConsentChange(Strict):
    scope: Literal["share_profile", "share_contact", "contact_survivor"]
    granted: bool
    expires_at: Instant | None = None
    terms: NewContactTerms | None = Field(
        default=None, description="contact_survivor only: how and when the person may be "
        "contacted; required unless the consent is being renewed with the terms on record")

    @model_validator(mode="after")
    def _terms_only_when_granting_contact(self) -> ConsentChange:
        if self.terms is not None and self.scope != "contact_survivor":
            raise ValueError("contact terms belong to the scope contact_survivor only")
        if self.terms is not None and not self.granted:
            raise ValueError("withdrawing consent needs no terms; leave 'terms' out")
        return self


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
