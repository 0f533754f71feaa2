"""Helpers for the browser tests: Debian's Chromium, a seeded network, keyboard steps."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from playwright.sync_api import Browser, Page
from sqlmodel import Session, col, select

from services.intake.accounts import create_organization, create_user
from services.intake.auth import Principal
from services.intake.db import create_db_engine
from services.intake.directory import handlers as directory
from services.intake.directory import seed
from services.intake.directory.schemas import CapacitySet, EligibilityIn, LocationIn, ServiceIn
from services.intake.main import build_ports
from services.intake.models import OrganizationKind, OutboxMessage, Role, User
from shared.events.vocabulary import ServiceType
from shared.identity import ensure_service_keys, private_store
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings
from shared.topics import TopicSpec
from tests.support.intake import referral_body
from tests.support.intake_process import IntakeUnderTest
from tests.support.matching_run import CONSUMED as MATCHING_CONSUMED
from tests.support.processes import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
NEUTRAL = "https://neutral.example/"
STAFF = "staff-pages-e2e"
STAFF_PASSWORD = "pages e2e staff passphrase"



def ensure_chromium() -> None:
    """Debian's chromium, installed with apt-get when missing (CI runs as root, no stdin)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail("Chromium is missing: install it once with `sudo apt-get install chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"],
                    ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        subprocess.run(command, check=True, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=1800)


@dataclass
class Network:
    intake: IntakeUnderTest
    browser: Browser
    var_dir: Path
    console_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.intake.url

    def page(self, username: str, password: str) -> Page:
        """A fresh browser context (own cookies) signed in through the sign-in page."""
        context = self.browser.new_context(viewport={"width": 1100, "height": 900})
        context.route(f"{NEUTRAL}**", lambda route: route.fulfill(
            body="<title>Weather</title><p>Sunny</p>", content_type="text/html"))
        page = context.new_page()
        page.on("console", lambda message: self.console_errors.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.goto(f"{self.url}/sign-in")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, page.content()
        return page


def seed_with_sight_provider(intake: IntakeUnderTest, runtime: RuntimeSettings) -> None:
    """The demo network (own ids) plus one provider that alone offers sight support."""
    ensure_service_keys(runtime)
    settings = IntakeSettings(database_url=intake.env["DATABASE_URL"])
    ports = build_ports(intake=settings, kafka=KafkaSettings(), runtime=runtime)
    engine = create_db_engine(intake.env["DATABASE_URL"])
    now = datetime.now(UTC)
    with Session(engine) as session:
        seed.seed_demo_network(session=session, ports=ports, now=now, namespace=uuid.uuid4(),
                               keys=lambda owner: private_store(runtime, owner))
        admin = session.exec(select(User).where(User.username == seed.ADMIN[0])).one()
        acting = Principal(admin.id, admin.organization_id, Role.NETWORK_ADMIN)
        provider = create_organization(session=session, name="Pages test provider",
                                       kind=OrganizationKind.PROVIDER, region="utrecht")
        directory.announce_organization(session, ports, provider)
        create_user(session=session, organization_id=provider.id, username=STAFF,
                    display_name="Test staff", role=Role.PROVIDER_STAFF, password=STAFF_PASSWORD)
        location = directory.save_location(
            session=session, ports=ports, principal=acting, organization_id=provider.id,
            now=now, body=LocationIn(name="Test shelter", region="utrecht", latitude=52.09,
                                     longitude=5.12, confidential=True))
        # No demo service supports sight: the referral below can only match this one.
        service = directory.save_service(
            session=session, ports=ports, principal=acting, organization_id=provider.id,
            now=now, body=ServiceIn(
                name="Accessible emergency beds", service_type=ServiceType.EMERGENCY_SHELTER,
                unit="bed", location_id=location.id, service_areas=["utrecht"],
                eligibility=EligibilityIn(age_min=18, dependents_allowed=True,
                                          accessibility=["wheelchair", "hearing", "sight"])))
        directory.set_capacity(session=session, ports=ports, principal=acting,
                               service_id=service.id, now=now,
                               body=CapacitySet(available=3, maximum=4))
        session.commit()
    engine.dispose()


def group_starts_now(bootstrap: str, group: str,
                     consumed: tuple[TopicSpec, ...] = MATCHING_CONSUMED) -> None:
    """A new consumer group starts at today's end offsets: other tests' history is skipped."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(spec.name, p) for spec in consumed
                      for p in consumer.partitions_for_topic(spec.name) or []]
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def wait_until_published(database_url: str, timeout_s: float = 120) -> None:
    """The directory is on the broker before matching starts reading it."""
    engine = create_db_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if session.exec(select(OutboxMessage).where(
                        col(OutboxMessage.published_at).is_(None))).first() is None:
                    return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise AssertionError("intake's outbox did not drain")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def tab_to(page: Page, selector: str, trail: list[str], limit: int = 120) -> None:
    """Press Tab until the element matching `selector` has focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.name "
                                "|| document.activeElement.tagName")
        trail.append(str(focused))
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}; focus went {trail[-20:]}")


def submit_unmet(intake: IntakeUnderTest, regions: dict[str, int]) -> int:
    """Referrals nobody can take (an accessibility need no service meets), through the API;
    returns how many, once matching returned every one of them."""
    headers = {"Authorization": f"Bearer {intake.token()}"}
    ids = []
    for region, count in regions.items():
        for _ in range(count):
            body = referral_body(needs=["legal_aid"], location={"region": region})
            body["eligibility"] = {"age": 40, "accessibility": ["other"]}
            answer = httpx.post(f"{intake.url}/api/v1/referrals", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    deadline = time.monotonic() + 90
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for referral in list(pending):
            got = httpx.get(f"{intake.url}/api/v1/referrals/{referral}", headers=headers)
            if got.json()["status"] == "returned":
                pending.discard(referral)
        time.sleep(0.5)
    assert not pending, f"{len(pending)} referrals were never returned"
    return len(ids)
