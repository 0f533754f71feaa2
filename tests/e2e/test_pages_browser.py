"""The pages in headless Chromium against intake, matching, notifier and the real broker.

An outreach worker completes the referral form with the keyboard alone; matching
offers it to the one provider that can take it; provider staff accept in the inbox;
the outreach worker's list shows "accepted" without a reload; the admin dashboard
counts the placement. The quick-exit control leaves at once. Screenshots of every
main page land in docs/screenshots/ (shown in the README).

Chromium is Debian's package (installed with apt-get when missing, as root, as
deploy/local/postgres.py does for PostgreSQL); Playwright drives it, never downloads one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from playwright.sync_api import Browser, Page, expect, sync_playwright
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
from shared.kafka import ensure_topics
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings
from shared.topics import state_topics
from tests.support.intake import referral_body
from tests.support.intake_process import IntakeUnderTest
from tests.support.matching_run import CONSUMED
from tests.support.processes import REPO_ROOT, ServiceProcess

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
NEUTRAL = "https://neutral.example/"
STAFF = "staff-pages-e2e"
STAFF_PASSWORD = "pages e2e staff passphrase"
CANARY = f"CANARY-NAME-{uuid.uuid4().hex[:6]}"


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

    @property
    def url(self) -> str:
        return self.intake.url

    def page(self, username: str, password: str) -> Page:
        """A fresh browser context (own cookies) signed in through the sign-in page."""
        context = self.browser.new_context(viewport={"width": 1100, "height": 900})
        context.route(f"{NEUTRAL}**", lambda route: route.fulfill(
            body="<title>Weather</title><p>Sunny</p>", content_type="text/html"))
        page = context.new_page()
        page.goto(f"{self.url}/sign-in")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, page.content()
        return page


def _seed(intake: IntakeUnderTest, runtime: RuntimeSettings) -> None:
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


def _group_starts_now(bootstrap: str, group: str) -> None:
    """A new consumer group starts at today's end offsets: other tests' history is skipped."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(spec.name, p) for spec in CONSUMED
                      for p in consumer.partitions_for_topic(spec.name) or []]
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def _wait_until_published(database_url: str, timeout_s: float = 120) -> None:
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


@pytest.fixture(scope="module")
def network(kafka_broker: KafkaSettings,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    ensure_chromium()
    var = tmp_path_factory.mktemp("pages-e2e")
    bootstrap = kafka_broker.bootstrap_servers
    intake = IntakeUnderTest(var, bootstrap)
    intake.env["HAVEN_PAGES_QUICK_EXIT_URL"] = NEUTRAL
    runtime = RuntimeSettings(var_dir=var)
    _seed(intake, runtime)
    matching_id, notifier_id = (f"test-pages-{name}-{uuid.uuid4().hex[:8]}"
                                for name in ("matching", "notifier"))
    ensure_topics(kafka_broker, state_topics(matching_id))
    _group_starts_now(bootstrap, matching_id)
    env = {"HAVEN_VAR_DIR": str(var), "HAVEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    processes: list[ServiceProcess] = []
    try:
        intake.start()
        _wait_until_published(intake.env["DATABASE_URL"])
        for module, extra in (("services.matching", {"HAVEN_MATCHING_APP_ID": matching_id}),
                              ("services.notifier", {"HAVEN_NOTIFIER_APP_ID": notifier_id})):
            process = ServiceProcess(module, log_file=var / f"{module}.log", env={**env, **extra})
            processes.append(process)
            process.wait_for_log("Worker ready", timeout_s=120)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=["--no-sandbox"])
            yield Network(intake, browser)
            browser.close()
    finally:
        for process in processes:
            process.stop()
        if intake.process is not None:
            intake.process.stop()


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


def fill_referral_with_keyboard(page: Page) -> list[str]:
    """Complete the form with Tab, Space, Enter and typing; return the focus trail."""
    trail: list[str] = []
    keys = page.keyboard
    tab_to(page, 'input[name=needs][value="emergency_shelter"]', trail)
    keys.press("Space")
    tab_to(page, 'input[name=urgency][value="tonight"]', trail)
    keys.press("Space")
    tab_to(page, "#age", trail)
    keys.type("30")
    tab_to(page, "#gender_identity", trail)
    keys.type("Woman")
    for selector, text in (("#region", "utrecht"), ("#languages", "en")):
        tab_to(page, selector, trail)
        keys.type(text)
    tab_to(page, "details:nth-of-type(1) > summary", trail)
    keys.press("Enter")
    tab_to(page, 'input[name=accessibility][value="sight"]', trail)
    keys.press("Space")
    tab_to(page, "details:nth-of-type(2) > summary", trail)
    keys.press("Enter")
    tab_to(page, "#contact_name", trail)
    keys.type(CANARY)
    tab_to(page, "#contact_phone", trail)
    keys.type("+00 123 456 789")
    for name in ("consent_profile", "consent_contact", "explained"):
        tab_to(page, f"input[name={name}]", trail)
        keys.press("Space")
    tab_to(page, "button[type=submit]:not(.link)", trail)
    shot(page, "outreach-referral-form")
    keys.press("Enter")
    return trail


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


@pytest.mark.slow
def test_referral_offer_acceptance_and_dashboard_in_a_real_browser(network: Network) -> None:
    outreach = network.page("outreach-utrecht", seed.OUTREACH_PASSWORD)
    shot(outreach, "outreach-referrals-empty")
    outreach.goto(f"{network.url}/outreach/referrals/new")
    form = outreach.context.request.get(f"{network.url}/outreach/referrals/new")
    assert form.headers["cache-control"] == "no-store"
    trail = fill_referral_with_keyboard(outreach)
    outreach.wait_for_url(re.compile(r".*/outreach/referrals/[0-9a-f-]{36}$"))
    order = [trail.index(name) for name in ("needs", "urgency", "age", "region",
                                            "consent_profile", "explained")]
    assert order == sorted(order), f"focus order follows the form: {trail}"
    assert CANARY not in outreach.url and CANARY not in outreach.title()
    expect(outreach.locator("details.private")).not_to_have_attribute("open", "")
    shot(outreach, "outreach-referral")
    cookie = next(c for c in outreach.context.cookies() if c["name"] == "haven_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    outreach.goto(f"{network.url}/outreach/referrals")
    outreach.evaluate("window.__notReloaded = true")
    staff = network.page(STAFF, STAFF_PASSWORD)
    card = staff.locator("li.card[data-offer-status=open]")
    deadline = time.monotonic() + 90
    while card.count() == 0 and time.monotonic() < deadline:
        time.sleep(1)
        staff.reload()
    assert card.count() == 1, network.intake.process.tail() if network.intake.process else ""
    expect(card).to_contain_text("Emergency shelter")
    expect(card).to_contain_text("met every eligibility rule")
    assert CANARY not in staff.content()
    shot(staff, "provider-offers")
    card.get_by_role("button", name="Accept").click()
    staff.wait_for_load_state()

    status = outreach.locator("#referrals td.status").first
    expect(status).to_have_text(re.compile("Accepted by a provider"), timeout=90_000)
    assert outreach.evaluate("window.__notReloaded === true"), "updated without a reload"
    shot(outreach, "outreach-referrals-live")

    expect(staff.locator("li.card[data-offer-status=accepted]")).to_have_count(1)
    deadline = time.monotonic() + 60
    while CANARY not in staff.content() and time.monotonic() < deadline:
        time.sleep(1)
        staff.reload()  # the contact appears once matching confirmed the placement
    staff.locator("details.private summary").first.click()
    assert CANARY in staff.content(), "contact after acceptance, with consent"
    shot(staff, "provider-offer-accepted")
    staff.goto(f"{network.url}/provider/capacity")
    expect(staff.locator("li.card")).to_have_count(1)
    shot(staff, "provider-capacity")

    outreach.locator("#referrals a").first.click()
    expect(outreach.locator(".card")).to_contain_text("Accepted")
    shot(outreach, "outreach-referral-accepted")

    unmet = submit_unmet(network.intake, {"utrecht": 5, "limburg": 1})
    admin = network.page(seed.ADMIN[0], seed.ADMIN[1])
    placed = admin.locator('tr[data-stage="placed"] td.count')
    expect(placed).to_have_text("1")
    expect(admin.locator('tr[data-stage="returned"] td.count')).to_have_text(str(unmet))
    gaps = admin.locator("#gaps")
    expect(gaps.locator('[data-group="region"] [data-label="utrecht"]')).to_have_text("5")
    expect(gaps.locator('[data-group="region"] [data-label="limburg"]')).to_have_text(
        "fewer than 5")
    expect(admin.locator("svg.chart").first).to_be_visible()
    shot(admin, "admin-dashboard")


@pytest.mark.slow
def test_quick_exit_leaves_at_once_and_replaces_the_history_entry(network: Network) -> None:
    page = network.page("outreach-amsterdam", seed.OUTREACH_PASSWORD)
    page.goto(f"{network.url}/outreach/referrals/new")
    before = page.evaluate("history.length")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_url(NEUTRAL)
    assert page.evaluate("history.length") == before, "the form's entry was replaced"
    page.go_back()
    assert "/outreach/referrals/new" not in page.url
    second = network.page("outreach-amsterdam", seed.OUTREACH_PASSWORD)
    second.keyboard.press("Tab")  # keyboard reachable: Tab to the button, Enter
    tab_to(second, "#quick-exit", [])
    second.keyboard.press("Enter")
    second.wait_for_url(NEUTRAL)


@pytest.mark.slow
def test_sign_in_page_screenshot(network: Network) -> None:
    context = network.browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(f"{network.url}/sign-in")
    expect(page.locator("#username")).to_be_focused()
    shot(page, "sign-in")
    page.goto(f"{network.url}/outreach/referrals/new")
    expect(page.get_by_role("alert")).to_contain_text("Please sign in")
    assert httpx.get(f"{network.url}/sign-in").headers["cache-control"] == "no-store"
