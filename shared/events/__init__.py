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
from shared.events.matching import (
    CapacityCounted,
    CapacityObserved,
    DeadlineReached,
    HoldDecided,
    HoldReleased,
    HoldRequested,
    OfferTimedOut,
    PlacementConfirmed,
)
from shared.events.notifications import (
    ContactTermsSet,
    InboxMessagePosted,
    NotificationAlertRaised,
    NotificationRetryScheduled,
    PlannedNotification,
)
from shared.events.offers import (
    ErasureApplied,
    NotificationDelivered,
    OfferAccepted,
    OfferClosed,
    OfferDeclined,
    OfferMade,
    PlacementChosen,
    PlacementDeclined,
    WithdrawnOffer,
)
from shared.events.referral import (
    ConsentChanged,
    ConsentGrant,
    ContactDetails,
    MatchingProfile,
    ReferralErased,
    ReferralStalled,
    ReferralStatusChanged,
    ReferralSubmitted,
)

__all__ = [
    "CapacityConfirmationDue", "CapacityCounted", "CapacityObserved", "CapacityUpdated",
    "ConsentChanged",
    "HoldDecided", "HoldReleased", "HoldRequested", "OfferClosed", "OfferTimedOut",
    "PlacementConfirmed", "DeadlineReached", "PlacementChosen", "PlacementDeclined",
    "ReferralStalled",
    "ConsentGrant", "ContactDetails",
    "Eligibility", "Event", "MatchingProfile", "NotificationDelivered", "OfferAccepted",
    "OfferDeclined", "OfferMade", "OrganizationUpserted", "PublicKeyRef", "ReferralErased",
    "ReferralStatusChanged", "ReferralSubmitted", "ServiceUpserted", "register",
    "register_upcaster", "registered_types", "resolve",
    "ContactTermsSet", "InboxMessagePosted", "NotificationAlertRaised",
    "NotificationRetryScheduled", "PlannedNotification", "ErasureApplied", "WithdrawnOffer",
]
