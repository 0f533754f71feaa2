"""A demo network that looks alive: 64 invented providers across the Netherlands.

Every organization, person and place name here is invented; coordinates are the
centres of real towns so distances make sense. Ids are derived from names
(uuid5), so seeding twice changes nothing, and everything goes through the same
use cases as the API, so the events reach Kafka through the outbox like any change.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from services.intake.accounts import create_organization, create_user, ensure_admin
from services.intake.auth import Principal
from services.intake.directory import handlers
from services.intake.directory.models import Capacity
from services.intake.directory.schemas import (
    CapacitySet,
    EligibilityIn,
    LocationIn,
    ScheduleIn,
    ServiceIn,
    StaffContactIn,
)
from services.intake.handlers import Ports
from services.intake.models import Organization, OrganizationKind, Role, User
from shared.crypto.keystore import FileKeyStore
from shared.events.vocabulary import ServiceType

NAMESPACE = uuid.UUID("5b0c6a52-2f0e-4c1b-9a57-7d0f3f1f0d64")
PROVIDERS = 64
STAFF_PASSWORD = "haven-demo-staff"
OUTREACH_PASSWORD = "haven-demo-outreach"
ADMIN = ("admin", "haven-demo-admin")


@dataclass(frozen=True)
class Town:
    name: str
    region: str
    latitude: float
    longitude: float


TOWNS = (
    Town("Amsterdam", "noord-holland", 52.370, 4.895),
    Town("Haarlem", "noord-holland", 52.381, 4.637),
    Town("Alkmaar", "noord-holland", 52.632, 4.748),
    Town("Rotterdam", "zuid-holland", 51.922, 4.479),
    Town("Den Haag", "zuid-holland", 52.078, 4.288),
    Town("Leiden", "zuid-holland", 52.160, 4.497),
    Town("Dordrecht", "zuid-holland", 51.813, 4.690),
    Town("Utrecht", "utrecht", 52.091, 5.122),
    Town("Amersfoort", "utrecht", 52.156, 5.387),
    Town("Eindhoven", "noord-brabant", 51.441, 5.478),
    Town("Tilburg", "noord-brabant", 51.555, 5.091),
    Town("Breda", "noord-brabant", 51.589, 4.776),
    Town("Arnhem", "gelderland", 51.985, 5.899),
    Town("Nijmegen", "gelderland", 51.842, 5.853),
    Town("Zwolle", "overijssel", 52.517, 6.083),
    Town("Enschede", "overijssel", 52.221, 6.894),
    Town("Groningen", "groningen", 53.219, 6.567),
    Town("Leeuwarden", "friesland", 53.201, 5.799),
    Town("Maastricht", "limburg", 50.851, 5.691),
    Town("Venlo", "limburg", 51.370, 6.172),
)
_KINDS: dict[ServiceType, tuple[str, str, int]] = {
    # service type: (name pattern, unit, typical maximum)
    ServiceType.EMERGENCY_SHELTER: ("{word} House emergency beds", "bed", 12),
    ServiceType.LONG_TERM_RESIDENTIAL: ("{word} residential programme", "bed", 20),
    ServiceType.LEGAL_AID: ("{word} legal clinic", "case slot", 15),
    ServiceType.IMMIGRATION_LEGAL_AID: ("{word} immigration law desk", "case slot", 10),
    ServiceType.MEDICAL: ("{word} health point", "appointment", 25),
    ServiceType.MENTAL_HEALTH: ("{word} trauma care", "intake slot", 8),
    ServiceType.ADDICTION_CARE: ("{word} recovery centre", "bed", 10),
    ServiceType.COUNSELLING: ("{word} counselling", "intake slot", 15),
    ServiceType.EMPLOYMENT: ("{word} work and training", "place", 20),
    ServiceType.SAFE_RELOCATION: ("{word} safe relocation", "place", 5),
    ServiceType.INTERPRETATION: ("{word} interpreters", "appointment", 30),
    ServiceType.CHILD_SERVICES: ("{word} youth shelter", "bed", 8),
}
_WORDS = ("Harbour", "Lantern", "Willow", "Compass", "Beacon", "Open Door", "Kestrel", "Linden",
          "North Star", "Meadow", "Anchor", "Bridge", "Cedar", "Haven Light", "Juniper", "Tulip")
_LANGUAGES = ("nl", "en", "ro", "bg", "pl", "es", "ar", "ti", "uk", "ru", "fr", "pt", "vi")
_FIRST = ("Anna", "Bram", "Chidi", "Daan", "Eva", "Fatima", "Gijs", "Hana", "Ilse", "Joris",
          "Kim", "Lotte", "Milan", "Noor", "Omar", "Pien", "Ruben", "Sanne", "Tess", "Yara")
_LAST = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer",
         "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "de Wit", "Kok")
OUTREACH_TEAMS = ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen", "Maastricht")


@dataclass
class SeedReport:
    organizations: int = 0
    services: int = 0
    users: int = 0
    skipped: bool = False


def demo_id(kind: str, index: int | str, namespace: uuid.UUID = NAMESPACE) -> uuid.UUID:
    return uuid.uuid5(namespace, f"{kind}:{index}")


def seed_demo_network(
    *, session: Session, ports: Ports, now: datetime, keys: Callable[[str], FileKeyStore],
    progress: Callable[[str], None] = lambda _: None, providers: int = PROVIDERS,
    namespace: uuid.UUID = NAMESPACE,
) -> SeedReport:
    """Create the demo network once; a second run finds it and changes nothing.

    Tests pass their own namespace so their ids never meet the demo's on a shared broker.
    """
    report = SeedReport()
    if session.get(Organization, demo_id("provider", 0, namespace)) is not None:
        report.skipped = True
        return report
    rng = random.Random(20261124)
    ensure_admin(session=session, username=ADMIN[0], password=ADMIN[1])
    admin = session.exec(select(User).where(User.username == ADMIN[0])).one()
    acting = Principal(subject=admin.id, organization_id=admin.organization_id,
                       role=Role.NETWORK_ADMIN)
    coordination = session.get(Organization, admin.organization_id)
    assert coordination is not None
    handlers.announce_organization(session, ports, coordination)
    report.organizations += 1
    report.users += 1
    for index, town_name in enumerate(OUTREACH_TEAMS):
        town = next(t for t in TOWNS if t.name == town_name)
        team = _organization(session, ports, keys, demo_id("outreach", index, namespace),
                             f"Outreach team {town.name}", OrganizationKind.OUTREACH, town)
        _user(session, team, f"outreach-{town.name.lower()}", OUTREACH_PASSWORD,
              Role.OUTREACH_WORKER, rng)
        report.organizations += 1
        report.users += 1
        progress(f"outreach team {town.name}")
    for index in range(providers):
        town = TOWNS[index % len(TOWNS)]
        word = _WORDS[(index // len(TOWNS) + index) % len(_WORDS)]
        provider = _organization(session, ports, keys, demo_id("provider", index, namespace),
                                 f"{word} Foundation {town.name}", OrganizationKind.PROVIDER,
                                 town)
        _user(session, provider, f"staff-{index + 1:02d}", STAFF_PASSWORD, Role.PROVIDER_STAFF,
              rng)
        report.services += _services(session, ports, acting, provider, town, word, index, rng,
                                     now)
        report.organizations += 1
        report.users += 1
        progress(provider.name)
    return report


def _organization(session: Session, ports: Ports, keys: Callable[[str], FileKeyStore],
                  org_id: uuid.UUID, name: str, kind: OrganizationKind, town: Town) -> Organization:
    organization = create_organization(session=session, name=name, kind=kind,
                                       region=town.region, organization_id=org_id)
    organization.description = f"Invented demo organization in {town.name}."
    organization.email = f"info@{name.lower().replace(' ', '-')}.example"
    session.add(organization)
    session.flush()
    owner = f"org:{org_id}"
    store = keys(owner)
    if not store.key_sets(owner):
        store.rotate(owner)
    handlers.publish_keys(session, ports, organization,
                          [key_set.public_record() for key_set in store.key_sets(owner)])
    return organization


def _user(session: Session, organization: Organization, username: str, password: str,
          role: Role, rng: random.Random) -> None:
    display = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    create_user(session=session, organization_id=organization.id, username=username,
                display_name=display, role=role, password=password)


def _services(session: Session, ports: Ports, acting: Principal, provider: Organization,
              town: Town, word: str, index: int, rng: random.Random, now: datetime) -> int:
    confidential = index % 3 == 0
    location = handlers.save_location(
        session=session, ports=ports, principal=acting, organization_id=provider.id, now=now,
        body=LocationIn(
            name="Shelter (confidential)" if confidential else f"{town.name} office",
            region=town.region,
            latitude=round(town.latitude + rng.uniform(-0.03, 0.03), 5),
            longitude=round(town.longitude + rng.uniform(-0.04, 0.04), 5),
            address_1="" if confidential else f"{rng.choice(_WORDS)}straat {rng.randint(1, 200)}",
            city=town.name, postal_code=f"{rng.randint(1000, 9999)} {rng.choice('ABCDEFGH')}X",
            confidential=confidential))
    kinds = list(_KINDS)
    chosen = {kinds[index % len(kinds)]} | set(rng.sample(kinds, rng.randint(0, 2)))
    for service_type in sorted(chosen):
        pattern, unit, typical = _KINDS[service_type]
        service = handlers.save_service(
            session=session, ports=ports, principal=acting, organization_id=provider.id,
            now=now, body=ServiceIn(
                name=pattern.format(word=word), service_type=service_type, unit=unit,
                location_id=location.id, description="Invented demo service.",
                eligibility=_eligibility(service_type, rng),
                service_areas=sorted({town.region, rng.choice(TOWNS).region}),
                schedules=[ScheduleIn(byday="MO,TU,WE,TH,FR", opens_at="09:00",
                                      closes_at="17:00")]
                if service_type not in {ServiceType.EMERGENCY_SHELTER,
                                        ServiceType.CHILD_SERVICES}
                else [ScheduleIn(byday="MO,TU,WE,TH,FR,SA,SU", opens_at="00:00",
                                 closes_at="24:00", description="intake day and night")],
                contacts=[StaffContactIn(name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                                         title="intake coordinator",
                                         email=f"intake{index}@example.org")]))
        maximum = max(1, typical + rng.randint(-typical // 2, typical // 2))
        full = rng.random() < 0.25
        handlers.set_capacity(
            session=session, ports=ports, principal=acting, service_id=service.id, now=now,
            body=CapacitySet(available=0 if full else rng.randint(1, maximum), maximum=maximum,
                             waitlist_length=rng.randint(1, 9) if full else 0))
        if rng.random() < 0.15:  # some figures nobody confirmed for days: shown as stale
            capacity = session.get(Capacity, service.id)
            assert capacity is not None
            capacity.confirmed_at = now - timedelta(days=rng.randint(2, 6))
            session.add(capacity)
            session.flush()
            handlers.announce_capacity(session, ports, capacity)
    return len(chosen)


def _eligibility(service_type: ServiceType, rng: random.Random) -> EligibilityIn:
    minors = service_type is ServiceType.CHILD_SERVICES
    genders: list[str] = []
    if service_type in {ServiceType.EMERGENCY_SHELTER, ServiceType.LONG_TERM_RESIDENTIAL}:
        genders = rng.choice([["woman", "transgender_woman"], ["man", "transgender_man"],
                              ["woman", "man", "transgender_woman", "transgender_man",
                               "non_binary"], ["woman", "transgender_woman", "non_binary"]])
    languages = sorted({"nl", "en", *rng.sample(_LANGUAGES[2:], rng.randint(0, 3))})
    return EligibilityIn(
        genders=genders, age_min=12 if minors else 18, age_max=17 if minors else 120,
        dependents_allowed=rng.random() < 0.4 or minors, languages=languages,
        exploitation_types=rng.choice([[], [], ["sexual"], ["labour", "domestic_servitude"]]),
        immigration_statuses=rng.choice([[], [], ["citizen", "resident"]]),
        substance_use_accepted=service_type is ServiceType.ADDICTION_CARE or rng.random() < 0.5,
        pets_allowed=rng.random() < 0.2,
        accessibility=rng.choice([[], ["wheelchair"], ["wheelchair", "hearing"]]))
