"""An intake app on a throwaway database, with an organization and a user per role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from services.intake.accounts import create_organization, create_user
from services.intake.main import create_app
from services.intake.models import OrganizationKind, Role
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings

PASSWORD = "correct horse battery staple"
ROLE_ORG_KIND = {Role.OUTREACH_WORKER: OrganizationKind.OUTREACH,
                 Role.PROVIDER_STAFF: OrganizationKind.PROVIDER,
                 Role.NETWORK_ADMIN: OrganizationKind.COORDINATOR}


@dataclass
class Member:
    username: str
    role: Role
    organization_id: uuid.UUID
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Intake:
    client: TestClient
    members: dict[str, Member]
    runtime: RuntimeSettings | None = None  # its var dir: other services' keys live there too

    def sign_in(self, member: Member) -> Member:
        answer = self.client.post("/api/v1/auth/token",
                                  data={"username": member.username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        member.token = answer.json()["access_token"]
        return member


def add_member(session: Session, name: str, role: Role) -> Member:
    """An organization of the right kind with one signed-up user."""
    suffix = uuid.uuid4().hex[:6]
    organization = create_organization(session=session, name=f"{name} org {suffix}",
                                       kind=ROLE_ORG_KIND[role], region="north")
    user = create_user(session=session, organization_id=organization.id,
                       username=f"{name}-{suffix}", display_name=f"Test {name}", role=role,
                       password=PASSWORD)
    return Member(user.username, role, organization.id)


@contextmanager
def running_intake(
    *, var_dir: Path, database_url: str, kafka: KafkaSettings | None = None,
    background: bool = False,
) -> Iterator[Intake]:
    """Migrated app plus members: outreach (two organizations), provider, admin."""
    runtime = RuntimeSettings(var_dir=var_dir)
    app = create_app(intake=IntakeSettings(database_url=database_url),
                     kafka=kafka or KafkaSettings(), runtime=runtime, background=background)
    with TestClient(app, raise_server_exceptions=False) as client:
        with Session(app.state.engine) as session:
            members = {
                "outreach": add_member(session, "outreach", Role.OUTREACH_WORKER),
                "other_outreach": add_member(session, "other", Role.OUTREACH_WORKER),
                "provider": add_member(session, "provider", Role.PROVIDER_STAFF),
                "admin": add_member(session, "admin", Role.NETWORK_ADMIN),
            }
            session.commit()
        intake = Intake(client, members, runtime)
        for member in members.values():
            intake.sign_in(member)
        yield intake


def referral_body(**overrides: object) -> dict[str, object]:
    """A complete, valid submission with obviously fake personal data."""
    body: dict[str, object] = {
        "needs": ["emergency_shelter", "legal_aid"],
        "urgency": "tonight",
        "eligibility": {"age_range": {"min": 25, "max": 35}, "gender_identity": "woman",
                        "languages": ["en", "es"], "exploitation_types": ["labour"]},
        "location": {"region": "north"},  # a distance limit needs a region of the directory
        "contact": {"name": "CANARY-NAME-Zyx", "phone": "+00 000 000 0000"},
        "consent": {
            "share_profile": {"granted": True, "expires_at": "2099-01-01T00:00:00Z"},
            "share_contact": {"granted": True, "expires_at": "2099-01-01T00:00:00Z"},
            "contact_survivor": {"granted": True, "expires_at": "2099-01-01T00:00:00Z",
                                 "channel": "sms", "language": "es",
                                 "hours": {"start": "10:00", "end": "18:00",
                                           "timezone": "Europe/Madrid"}},
            "explained_right_to_revoke": True,
        },
    }
    body.update(overrides)
    return body
