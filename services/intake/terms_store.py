"""Where intake keeps a survivor's current contact terms: sealed on the referral row.

The terms hold the address, so they are stored only through the vault (bound to
the referral and the purpose "contact_terms", erased with the referral's key),
and dropped as soon as contact consent is withdrawn: a new grant must then come
with terms again. They are kept at all only so that a renewal (a new expiry,
same terms) needs nothing retyped.
"""

from __future__ import annotations

from sqlmodel import Session

from services.intake.consent import ConsentProblem, RecordedTerms, resolve_terms
from services.intake.models import Referral
from services.intake.schemas import Contact, NewContactTerms
from services.intake.vault import Vault, VaultError

PURPOSE = "contact_terms"


def keep(session: Session, vault: Vault, referral: Referral, terms: RecordedTerms) -> None:
    """Replace the referral's terms with these, sealed."""
    referral.sealed_contact_terms = vault.seal(session, referral.id, PURPOSE,
                                               terms.model_dump_json().encode())
    session.add(referral)


def on_record(session: Session, vault: Vault, referral: Referral) -> RecordedTerms | None:
    """The current terms, or None: never given, withdrawn, or erased."""
    if referral.sealed_contact_terms is None:
        return None
    try:
        opened = vault.open(session, referral.id, PURPOSE, referral.sealed_contact_terms)
    except VaultError:
        return None
    return RecordedTerms.model_validate_json(opened)


def forget(session: Session, referral: Referral) -> None:
    """Contact consent withdrawn (or erased): the terms and their address go."""
    referral.sealed_contact_terms = None
    session.add(referral)


def contact_on_record(session: Session, vault: Vault, referral: Referral) -> Contact | None:
    """The contact details given at submission, for terms that name no address of their own."""
    if referral.sealed_contact is None:
        return None
    try:
        return Contact.model_validate_json(
            vault.open(session, referral.id, "contact", referral.sealed_contact))
    except VaultError:
        return None


def for_grant(session: Session, vault: Vault, referral: Referral,
              given: NewContactTerms | None) -> RecordedTerms:
    """The terms given (address from them or the contact on record), else those on record."""
    if given is not None:
        return resolve_terms(
            given, given.contact, contact_on_record(session, vault, referral),
            at="terms", address_at="terms.contact")
    kept = on_record(session, vault, referral)
    if kept is None:
        raise ConsentProblem(
            "terms", "to contact the person, give the contact terms: channel, hours (start, "
                     "end, timezone) and, unless it is on record, their phone or e-mail under "
                     "terms.contact. Earlier terms end when contact consent is withdrawn.")
    return kept
