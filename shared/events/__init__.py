"""The event catalog: every versioned event Haven publishes (see docs/events.md)."""

from shared.events.base import Event, register, register_upcaster, registered_types, resolve
from shared.events.directory import (
    CapacityConfirmationDue,
    CapacityUpdated,
    Eligibility,
    OrganizationUpserted,
    PublicKeyRef,
    ServiceUpserted,
)
from shared.events.offers import (
    CapacityHeld,
    NotificationDelivered,
    OfferAccepted,
    OfferDeclined,
    OfferMade,
)
from shared.events.referral import (
    ConsentChanged,
    ConsentGrant,
    ContactDetails,
    MatchingProfile,
    ReferralErased,
    ReferralStatusChanged,
    ReferralSubmitted,
)

__all__ = [
    "CapacityConfirmationDue", "CapacityHeld", "CapacityUpdated", "ConsentChanged",
    "ConsentGrant", "ContactDetails",
    "Eligibility", "Event", "MatchingProfile", "NotificationDelivered", "OfferAccepted",
    "OfferDeclined", "OfferMade", "OrganizationUpserted", "PublicKeyRef", "ReferralErased",
    "ReferralStatusChanged", "ReferralSubmitted", "ServiceUpserted", "register",
    "register_upcaster", "registered_types", "resolve",
]
