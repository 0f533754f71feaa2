"""Intake's use cases: each runs in the caller's transaction and puts its events in the outbox."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from services.intake import consent as consent_rules
from services.intake import consent_terms, terms_store
from services.intake.audit import Action, Subject, audit
from services.intake.auth import Principal
from services.intake.directory import regions
from services.intake.inbox import projection as inbox
from services.intake.models import ConsentRecord, IdempotencyRecord, Referral, TimelineEntry
from services.intake.offers import erasure as offers
from services.intake.outbox import enqueue
from services.intake.schemas import ConsentChange, ReferralCreate, ScopeConsent
from services.intake.vault import Vault
from shared.events import (
    ConsentChanged,
    ConsentGrant,
    Event,
    MatchingProfile,
    ReferralErased,
    ReferralSubmitted,
)
from shared.events.vocabulary import ConsentScope
from shared.grant_follower import GrantFollower
from shared.protection import SealedPayload, grant_tombstone
from shared.records import RecordCodec


class Conflict(Exception):
    """The request clashes with what is already recorded; the message says how."""


class NotFound(Exception):
    """Nothing the caller may see has this id (the same answer whether it exists or not)."""


@dataclass(frozen=True)
class Ports:
    """What the use cases need from the outside, wired once in the app factory."""

    vault: Vault
    codec: RecordCodec
    sealed: SealedPayload | None = None
    grants: GrantFollower | None = None


def submit_referral(
    *, session: Session, ports: Ports, principal: Principal, request: ReferralCreate,
    idempotency_key: str | None, now: datetime,
) -> tuple[Referral, bool]:
    """Store a referral with its consent and announce it; (referral, created?)."""
    fingerprint = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    idempotency_key = idempotency_digest(idempotency_key) if idempotency_key else None
    if idempotency_key:
        earlier = _idempotent_replay(session, principal, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False
    decisions = consent_rules.check_release(request.consent, now=now, contact=request.contact)
    region = regions.canonical_region(session=session, region=request.location.region)
    request = request.model_copy(update={
        "location": request.location.model_copy(update={"region": region})})
    position = regions.position_for_distance(
        session=session, region=request.location.region,
        max_distance_km=request.location.max_distance_km)
    referral = Referral(
        organization_id=principal.organization_id, submitted_by=principal.subject,
        urgency=request.urgency.value, sealed_profile=b"", created_at=now, updated_at=now,
        retention_until=now + timedelta(days=request.consent.retention_days),
    )
    referral.sealed_profile = ports.vault.seal(
        session, referral.id, "profile",
        request.model_dump_json(exclude={"contact"}).encode())
    if request.contact is not None:
        referral.sealed_contact = ports.vault.seal(
            session, referral.id, "contact", request.contact.model_dump_json().encode())
    survivor = request.consent.contact_survivor
    terms = (consent_rules.resolve_terms(survivor, request.contact, at="consent.contact_survivor",
                                         address_at="contact") if survivor.granted else None)
    if terms is not None:
        terms_store.keep(session, ports.vault, referral, terms)
    session.add(referral)
    session.flush()  # the referral row first: consent records refer to it
    for decision in decisions:
        record, record_terms = _consent_record(referral.id, decision, principal, now, request)
        consent_terms.seal(session, ports.vault, record, record_terms)
        session.add(record)
    if idempotency_key:
        session.add(IdempotencyRecord(organization_id=principal.organization_id,
                                      key=idempotency_key, request_hash=fingerprint,
                                      referral_id=referral.id))
    event_id = announce(session, ports, ReferralSubmitted(
        referral_id=referral.id, outreach_organization_id=principal.organization_id,
        submitted_at=now, profile=_matching_profile(request, position=position),
        consents=[ConsentGrant(scope=ConsentScope(d.scope), granted=d.granted,
                               expires_at=d.expires_at) for d in decisions],
    ))
    session.add(TimelineEntry(event_id=event_id, referral_id=referral.id, at=now,
                              kind="submitted", detail=f"{len(request.needs)} needs"))
    if terms is not None:  # how the notifier may reach the person: sealed for it and intake
        announce(session, ports, terms.announcement(referral.id, expires_at=survivor.expires_at,
                                                    now=now))
    audit(session, principal, Action.REFERRAL_SUBMITTED, Subject.REFERRAL, referral.id, now)
    return referral, True


def change_consent(
    *, session: Session, ports: Ports, principal: Principal, referral_id: uuid.UUID,
    change: ConsentChange, now: datetime,
) -> None:
    """Record a new decision for one scope; earlier records of the scope are revoked.

    Granting contact with the survivor needs terms: the ones given, or for a renewal
    the ones on record. Withdrawing it forgets the terms, address included.
    """
    referral = own_referral(session, principal, referral_id)
    if referral.erased_at is not None:
        raise Conflict("This referral was erased; its consent can no longer change.")
    if change.granted:
        consent_rules.check_grant(change.scope, ScopeConsent(
            granted=True, expires_at=change.expires_at), now=now)
    contact = change.scope == "contact_survivor"
    terms = terms_store.for_grant(session, ports.vault, referral, change.terms) if (
        contact and change.granted) else None
    record_decision(session, ports.vault, principal, referral, change.scope,
                    granted=change.granted,
                    expires_at=change.expires_at, now=now,
                    terms=terms.without_address() if terms else {})
    event_id = announce(session, ports, ConsentChanged(
        referral_id=referral.id, changed_at=now,
        grant=ConsentGrant(scope=ConsentScope(change.scope), granted=change.granted,
                           expires_at=change.expires_at)))
    verb = "granted" if change.granted else "withdrawn"
    session.add(TimelineEntry(event_id=event_id, referral_id=referral.id, at=now,
                              kind=f"consent:{verb}", detail=change.scope))
    if terms is not None:
        terms_store.keep(session, ports.vault, referral, terms)
        announce(session, ports, terms.announcement(referral.id, expires_at=change.expires_at,
                                                    now=now))
    elif contact:
        terms_store.forget(session, referral)
    audit(session, principal, Action.CONSENT_CHANGED, Subject.REFERRAL, referral.id, now)


def current_record(session: Session, referral_id: uuid.UUID, scope: str
                   ) -> ConsentRecord | None:
    """The scope's decision in force (granted or not), if one was ever recorded."""
    return session.exec(select(ConsentRecord).where(
        ConsentRecord.referral_id == referral_id, ConsentRecord.scope == scope,
        col(ConsentRecord.revoked_at).is_(None))).first()


def record_decision(session: Session, vault: Vault, principal: Principal, referral: Referral,
                    scope: str, *, granted: bool, expires_at: datetime | None, now: datetime,
                    terms: dict[str, object]) -> None:
    """A new consent record for the scope; the earlier ones are revoked (history is kept).
    Its terms are sealed: they hold the person's own words (a cover story)."""
    current = session.exec(select(ConsentRecord).where(
        ConsentRecord.referral_id == referral.id, ConsentRecord.scope == scope,
        col(ConsentRecord.revoked_at).is_(None))).all()
    for record in current:
        record.revoked_at = now
        session.add(record)
    record = ConsentRecord(
        referral_id=referral.id, scope=scope, granted=granted,
        purpose=consent_rules.PURPOSES[scope], recipients=consent_rules.RECIPIENTS[scope],
        expires_at=expires_at, given_at=now, recorded_by=principal.subject)
    consent_terms.seal(session, vault, record, {"changed": True, **terms})
    session.add(record)


def erase_referral(
    *, session: Session, ports: Ports, referral: Referral, reason: str, now: datetime,
    principal: Principal | None = None,
) -> None:
    """Crypto-shred the referral's personal data here and tell every service to do the same;
    `principal` is None when retention erases (the audit entry names no one then)."""
    if referral.erased_at is not None:
        return
    ports.vault.erase(session, referral.id)
    _shred_grants(session, ports, str(referral.id))
    referral.sealed_profile = b""
    referral.sealed_contact = None
    terms_store.forget(session, referral)
    consent_terms.forget_all(session, referral.id)
    inbox.forget_referral(session, referral.id)  # no message may outlive the referral
    withdrawn = offers.withdraw_for_erasure(session, referral.id, now)
    referral.erased_at = now
    referral.status = "erased"
    referral.updated_at = now
    session.add(referral)
    event_id = announce(session, ports, ReferralErased(referral_id=referral.id, reason=reason,
                                                        erased_at=now))
    session.add(TimelineEntry(event_id=event_id, referral_id=referral.id, at=now,
                              kind="erased", detail=reason))
    if withdrawn:
        session.add(TimelineEntry(event_id=f"{event_id}/offers", referral_id=referral.id,
                                  at=now, kind="erasure:offers_withdrawn", detail=str(withdrawn)))
    audit(session, principal, Action.REFERRAL_ERASED, Subject.REFERRAL, referral.id, now)


def erase_expired(*, session: Session, ports: Ports, now: datetime) -> int:
    """Retention: erase every referral whose retention period has ended."""
    due = session.exec(select(Referral).where(
        col(Referral.erased_at).is_(None), col(Referral.retention_until) <= now)).all()
    for referral in due:
        erase_referral(session=session, ports=ports, referral=referral,
                       reason="retention_expired", now=now)
    return len(due)


def sweep_late_grants(*, session: Session, ports: Ports, now: datetime,
                      window: timedelta = timedelta(days=1)) -> int:
    """Tombstone grants that appeared after their referral was erased (a producer raced us)."""
    if ports.grants is None:
        return 0
    recent = session.exec(select(Referral.id).where(
        col(Referral.erased_at).is_not(None), col(Referral.erased_at) >= now - window)).all()
    swept = 0
    for referral_id in recent:
        late = ports.grants.grant_record_keys(str(referral_id))
        for record_key in late:
            enqueue(session, ports.codec.signed(grant_tombstone(record_key)),
                    event_id=f"tombstone:{record_key.rsplit(b'/', 1)[-1].decode()}:{now:%s}")
        swept += len(late)
    return swept


def view_referral(*, session: Session, principal: Principal, referral_id: uuid.UUID,
                  now: datetime) -> Referral:
    """An own referral opened for reading (its detail and timeline): an access on record."""
    referral = own_referral(session, principal, referral_id)
    audit(session, principal, Action.REFERRAL_VIEWED, Subject.REFERRAL, referral.id, now)
    return referral


def own_referral(session: Session, principal: Principal, referral_id: uuid.UUID) -> Referral:
    """The referral if it belongs to the caller's organization; NotFound otherwise."""
    referral = session.get(Referral, referral_id)
    if referral is None or referral.organization_id != principal.organization_id:
        raise NotFound("No referral with this id is visible to your organization.")
    return referral


def announce(session: Session, ports: Ports, event: Event) -> str:
    """Put the event (after any new key grants) in the outbox; return the event's id."""
    event_id = ""
    for record in ports.codec.encode_all(event):
        ce_id = dict(record.headers).get("ce_id")
        event_id = ce_id.decode() if ce_id else f"grant:{record.key.rsplit(b'/', 1)[-1].decode()}"
        enqueue(session, record, event_id=event_id)
    return event_id


def _shred_grants(session: Session, ports: Ports, referral: str) -> None:
    """Tombstone every grant of the referral on `referral.keys`, and forget our own."""
    if ports.sealed is not None:
        ports.sealed.forget(referral)
    if ports.grants is None:
        return
    for record_key in ports.grants.grant_record_keys(referral):
        enqueue(session, ports.codec.signed(grant_tombstone(record_key)),
                event_id=f"tombstone:{record_key.rsplit(b'/', 1)[-1].decode()}")
    ports.grants.ring.erase(referral)


def _idempotent_replay(
    session: Session, principal: Principal, key: str, fingerprint: str
) -> Referral | None:
    earlier = session.exec(select(IdempotencyRecord).where(
        IdempotencyRecord.organization_id == principal.organization_id,
        IdempotencyRecord.key == key)).first()
    if earlier is None:
        return None
    if earlier.request_hash != fingerprint:
        raise Conflict("This Idempotency-Key was already used for a different referral. "
                       "Use a new key for a new referral.")
    return session.get(Referral, earlier.referral_id)


def _matching_profile(request: ReferralCreate, *,
                      position: tuple[float, float] | None) -> MatchingProfile:
    """What matching may know; `position` is the region's coarse centroid, never an address."""
    facts = request.eligibility
    low, high = ((facts.age, facts.age) if facts.age is not None
                 else (facts.age_range.min, facts.age_range.max))  # type: ignore[union-attr]
    return MatchingProfile(
        needs=request.needs, urgency=request.urgency, age_min=low, age_max=high,
        gender_identity=facts.gender_identity, languages=facts.languages,
        dependents=facts.dependents, exploitation_types=facts.exploitation_types,
        region=request.location.region, max_distance_km=request.location.max_distance_km,
        avoid_regions=request.location.avoid_regions,
        approximate_latitude=position[0] if position else None,
        approximate_longitude=position[1] if position else None,
        immigration_status=facts.immigration_status, substance_use=facts.substance_use,
        pets=facts.pets, accessibility=facts.accessibility,
    )


def _consent_record(
    referral_id: uuid.UUID, decision: consent_rules.ScopeDecision, principal: Principal,
    now: datetime, request: ReferralCreate,
) -> tuple[ConsentRecord, dict[str, object]]:
    """The record of one scope at submission, and its terms (to be sealed on it)."""
    terms = (request.consent.contact_survivor.model_dump(mode="json", exclude={"granted"})
             if decision.scope == "contact_survivor" else {})
    return ConsentRecord(
        referral_id=referral_id, scope=decision.scope, granted=decision.granted,
        purpose=consent_rules.PURPOSES[decision.scope],
        recipients=consent_rules.RECIPIENTS[decision.scope], expires_at=decision.expires_at,
        given_at=now, recorded_by=principal.subject,
    ), {"right_to_revoke_explained": request.consent.explained_right_to_revoke,
        "retention_days": request.consent.retention_days, **terms}


def idempotency_digest(key: str) -> str:
    """What is stored of a client's Idempotency-Key: free text, so only its SHA-256."""
    return hashlib.sha256(b"haven-idempotency|" + key.encode()).hexdigest()


def aware(at: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
