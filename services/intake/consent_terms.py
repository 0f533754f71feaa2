"""The terms of each consent record, sealed like the rest of the referral.

A consent record keeps what the person agreed to (cover story, channel, hours,
retention) as evidence of the decision. Those are the survivor's words, so they
are sealed through the vault, bound to the referral and to the record's own id
(a record's terms cannot be moved onto another record), and destroyed with the
referral's key on erasure (`forget_all`).
"""

from __future__ import annotations

import json
import uuid

from sqlmodel import Session, select

from services.intake.models import ConsentRecord
from services.intake.vault import Vault, VaultError


def _purpose(record_id: uuid.UUID) -> str:
    return f"consent_terms:{record_id}"


def seal(session: Session, vault: Vault, record: ConsentRecord,
         terms: dict[str, object]) -> None:
    """Put the terms on the record, sealed for its referral."""
    record.sealed_terms = vault.seal(session, record.referral_id, _purpose(record.id),
                                     json.dumps(terms, sort_keys=True).encode())


def opened(session: Session, vault: Vault, record: ConsentRecord) -> dict[str, object] | None:
    """The record's terms, or None once its referral was erased."""
    if record.sealed_terms is None:
        return None
    try:
        terms: dict[str, object] = json.loads(vault.open(
            session, record.referral_id, _purpose(record.id), record.sealed_terms))
    except VaultError:
        return None
    return terms


def forget_all(session: Session, referral_id: uuid.UUID) -> None:
    """Erasure: no consent record of the referral keeps even the sealed bytes."""
    for record in session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == referral_id)).all():
        record.sealed_terms = None
        session.add(record)
