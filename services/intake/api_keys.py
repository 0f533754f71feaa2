"""Partner-system API keys: issued, listed and revoked, each change on the audit trail.

Shared by the admin API, the admin page and `haven intake api-keys`. A key's secret is
shown once when it is issued and never stored (only a hash); a revoked key stops working
on the next request (`api/deps.py` refuses keys with `revoked_at`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from services.intake.accounts import check_role_fits
from services.intake.audit import Action, Subject, audit
from services.intake.auth import NewApiKey, Principal, new_api_key
from services.intake.handlers import NotFound
from services.intake.models import ApiKey, Organization, Role


def issue_api_key(*, session: Session, organization_id: uuid.UUID, name: str, role: Role,
                  by: Principal, now: datetime) -> tuple[ApiKey, NewApiKey]:
    """A new key for one organization in one role; the plaintext is in the second value."""
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("No organization with this id.")
    check_role_fits(organization, role)
    fresh = new_api_key()
    key = ApiKey(organization_id=organization_id, name=name, role=role, prefix=fresh.prefix,
                 secret_hash=fresh.secret_hash)
    session.add(key)
    session.flush()
    audit(session, by, Action.API_KEY_ISSUED, Subject.API_KEY, key.id, now)
    return key, fresh


def list_api_keys(*, session: Session) -> list[ApiKey]:
    """Every key, newest first, revoked ones too (their revocation time shows)."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at).desc())).all())


def revoke_api_key(*, session: Session, key_id: uuid.UUID, by: Principal | None,
                   now: datetime) -> ApiKey:
    """Stop a key from working; revoking it again changes nothing. `by` is None for an
    operator at the command line."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("No API key with this id.")
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)
        audit(session, by, Action.API_KEY_REVOKED, Subject.API_KEY, key.id, now)
    return key
