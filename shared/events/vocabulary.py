"""Shared words: the service taxonomy, reasons and states that every service must agree on.

Kept in the contract because a status or reason code that only one side knows is
a bug the dashboard cannot count.
"""

from __future__ import annotations

from enum import StrEnum


class ServiceType(StrEnum):
    """Haven's service taxonomy (documented in docs/events.md)."""

    EMERGENCY_SHELTER = "emergency_shelter"
    LONG_TERM_RESIDENTIAL = "long_term_residential"
    LEGAL_AID = "legal_aid"
    IMMIGRATION_LEGAL_AID = "immigration_legal_aid"
    MEDICAL = "medical"
    MENTAL_HEALTH = "mental_health"
    ADDICTION_CARE = "addiction_care"
    COUNSELLING = "counselling"
    EMPLOYMENT = "employment"
    SAFE_RELOCATION = "safe_relocation"
    INTERPRETATION = "interpretation"
    CHILD_SERVICES = "child_services"


class Urgency(StrEnum):
    TONIGHT = "tonight"
    WITHIN_DAYS = "within_days"
    PLANNED = "planned"


class GenderIdentity(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    TRANSGENDER_WOMAN = "transgender_woman"
    TRANSGENDER_MAN = "transgender_man"
    NON_BINARY = "non_binary"
    NOT_SAID = "not_said"


class ExploitationType(StrEnum):
    SEXUAL = "sexual"
    LABOUR = "labour"
    CRIMINALITY = "forced_criminality"
    DOMESTIC_SERVITUDE = "domestic_servitude"
    OTHER = "other"


class ImmigrationStatus(StrEnum):
    CITIZEN = "citizen"
    RESIDENT = "resident"
    UNDOCUMENTED = "undocumented"
    ASYLUM_SEEKER = "asylum_seeker"
    UNKNOWN = "unknown"


class Accessibility(StrEnum):
    WHEELCHAIR = "wheelchair"
    HEARING = "hearing"
    SIGHT = "sight"
    OTHER = "other"


class ReferralStatus(StrEnum):
    """Every state a referral can be in; none of them is silent or final without a reason."""

    RECEIVED = "received"
    MATCHING = "matching"
    OFFERED = "offered"
    ACCEPTED = "accepted"  # parallel mode: providers accepted, the person has yet to choose
    PLACED = "placed"
    WAITLISTED = "waitlisted"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"


class DeclineReason(StrEnum):
    AT_CAPACITY = "at_capacity"
    NOT_ELIGIBLE = "not_eligible"
    COULD_NOT_CONTACT = "could_not_contact"
    SAFETY_CONCERN = "safety_concern"
    OTHER = "other"


class PersonDeclineReason(StrEnum):
    """Why the person said no to a place a provider accepted (counted, never shown to them)."""

    PREFERS_ANOTHER_OPTION = "prefers_another_option"
    LOCATION_NOT_SAFE = "location_not_safe"
    CONDITIONS_NOT_ACCEPTABLE = "conditions_not_acceptable"
    NO_LONGER_NEEDED = "no_longer_needed"
    OTHER = "other"


class ConsentScope(StrEnum):
    SHARE_PROFILE = "share_profile"
    SHARE_CONTACT = "share_contact"
    CONTACT_SURVIVOR = "contact_survivor"
    RETENTION = "retention"
