"""The pages in headless Chromium against intake, matching, notifier and the real broker.

An outreach worker completes the referral form with the keyboard alone; matching
offers it to the one provider that can take it; provider staff accept in the inbox;
the outreach worker's list shows "accepted" without a reload; the admin dashboard
counts the placement and the unmet needs (small counts hidden). The quick-exit
control leaves at once. Screenshots of every main page land in docs/screenshots/.

Chromium is Debian's package (installed with apt-get when missing, as root, as
deploy/local/postgres.py does for PostgreSQL); Playwright drives it, never downloads one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from services.intake.directory import seed
from services.notifier.app import CONSUMED as NOTIFIER_CONSUMED
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings, RuntimeSettings
from shared.topics import state_topics
from tests.support.browser import (
    CHROMIUM,
    NEUTRAL,
    STAFF,
    STAFF_PASSWORD,
    Network,
    ensure_chromium,
    group_starts_now,
    seed_with_sight_provider,
    shot,
    submit_unmet,
    tab_to,
    wait_until_published,
)
from tests.support.canary import every_file
from tests.support.intake import referral_body
from tests.support.intake_process import IntakeUnderTest
from tests.support.kafka import end_offsets, read_until
from tests.support.matching_run import reached
from tests.support.processes import ServiceProcess

CANARY = f"CANARY-NAME-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def network(kafka_broker: KafkaSettings,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    ensure_chromium()
    var = tmp_path_factory.mktemp("pages-e2e")
    bootstrap = kafka_broker.bootstrap_servers
    intake = IntakeUnderTest(var, bootstrap)
    intake.env["HAVEN_PAGES_QUICK_EXIT_URL"] = NEUTRAL
    runtime = RuntimeSettings(var_dir=var)
    seed_with_sight_provider(intake, runtime)
    matching_id, notifier_id = (f"test-pages-{name}-{uuid.uuid4().hex[:8]}"
                                for name in ("matching", "notifier"))
    intake.env |= {"HAVEN_MATCHING_APP_ID": matching_id, "HAVEN_NOTIFIER_APP_ID": notifier_id}
    ensure_topics(kafka_broker, state_topics(matching_id))
    group_starts_now(bootstrap, matching_id)
    group_starts_now(bootstrap, notifier_id, NOTIFIER_CONSUMED)
    env = {"HAVEN_VAR_DIR": str(var), "HAVEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    processes: list[ServiceProcess] = []
    try:
        intake.start()
        wait_until_published(intake.env["DATABASE_URL"])
        for module, extra in (("services.matching", {"HAVEN_MATCHING_APP_ID": matching_id}),
                              ("services.notifier", {"HAVEN_NOTIFIER_APP_ID": notifier_id})):
            process = ServiceProcess(module, log_file=var / f"{module}.log", env={**env, **extra})
            processes.append(process)
            process.wait_for_log("Worker ready", timeout_s=120)
        for process in processes:  # a shared broker's long key topic takes a while to read
            process.wait_for_log("grants caught up", timeout_s=240)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=["--no-sandbox"])
            yield Network(intake, browser, var)
            browser.close()
    finally:
        for process in processes:
            process.stop()
        if intake.process is not None:
            intake.process.stop()


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


def outreach_submits_with_the_keyboard(network: Network) -> Page:
    """Step 1: the form, keyboard only; no personal data in the address or the title."""
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
    return outreach


def provider_accepts(staff: Page) -> Page:
    """Step 2: the open inbox announces the offer by itself; it is de-identified,
    explained, and accepted in one click."""
    expect(staff.locator("#new-offers")).to_be_visible(timeout=90_000)
    assert staff.evaluate("window.__notReloaded === true"), "announced without a reload"
    staff.get_by_role("link", name="Show it").click()
    card = staff.locator("li.card[data-offer-status=open]")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Emergency shelter")
    expect(card).to_contain_text("met every eligibility rule")
    assert CANARY not in staff.content()
    shot(staff, "provider-offers")
    card.get_by_role("button", name="Accept").click()
    staff.wait_for_load_state()
    return staff


def provider_sees_contact_and_capacity(network: Network, staff: Page) -> None:
    """Step 4: contact details once matching confirmed the placement (consent given)."""
    expect(staff.locator("li.card[data-offer-status=accepted]")).to_have_count(1)
    deadline = time.monotonic() + 60
    while CANARY not in staff.content() and time.monotonic() < deadline:
        time.sleep(1)
        staff.reload()
    staff.locator("details.private summary").first.click()
    assert CANARY in staff.content(), "contact after acceptance, with consent"
    shot(staff, "provider-offer-accepted")
    staff.goto(f"{network.url}/provider/capacity")
    expect(staff.locator("li.card")).to_have_count(1)
    shot(staff, "provider-capacity")


def admin_counts(network: Network) -> None:
    """Step 5: the dashboard counts the placement; unmet needs under 5 stay hidden."""
    unmet = submit_unmet(network.intake, {"utrecht": 5, "limburg": 1})
    admin = network.page(seed.ADMIN[0], seed.ADMIN[1])
    expect(admin.locator('tr[data-stage="placed"] td.count')).to_have_text("1")
    expect(admin.locator('tr[data-stage="returned"] td.count')).to_have_text(str(unmet))
    gaps = admin.locator("#gaps")
    expect(gaps.locator('[data-group="region"] [data-label="utrecht"]')).to_have_text("5")
    expect(gaps.locator('[data-group="region"] [data-label="limburg"]')).to_have_text(
        "fewer than 5")
    expect(gaps.locator('[data-group="reason"] [data-label="no_match"]')).to_have_text(
        str(unmet))
    expect(admin.locator("svg.chart").first).to_be_visible()
    for service in ("intake", "matching", "notifier"):  # lag per consumer group, from Kafka
        expect(admin.locator(f'tr[data-lag="{service}"] td')).to_have_text(re.compile(r"^\d+$"))
    shot(admin, "admin-dashboard")


@pytest.mark.slow
def test_referral_offer_acceptance_and_dashboard_in_a_real_browser(network: Network) -> None:
    staff = network.page(STAFF, STAFF_PASSWORD)
    expect(staff.locator("#offers")).to_have_count(1)
    staff.evaluate("window.__notReloaded = true")
    outreach = outreach_submits_with_the_keyboard(network)
    outreach.goto(f"{network.url}/outreach/referrals")
    outreach.evaluate("window.__notReloaded = true")
    staff = provider_accepts(staff)
    # Step 3: the outreach worker's open list changes by itself (server-sent events).
    status = outreach.locator("#referrals td[data-status-of]").first
    expect(status).to_have_text(re.compile("Accepted by a provider"), timeout=90_000)
    assert outreach.evaluate("window.__notReloaded === true"), "updated without a reload"
    shot(outreach, "outreach-referrals-live")
    provider_sees_contact_and_capacity(network, staff)
    outreach.locator("#referrals a").first.click()
    expect(outreach.locator(".card")).to_contain_text("Accepted")
    shot(outreach, "outreach-referral-accepted")
    admin_counts(network)
    leaks = [label for label, blob in every_file(network.var_dir) if CANARY.encode() in blob]
    assert leaks == [], "the name typed in the browser is in no log or database in the clear"
    assert network.console_errors == [], "no script error, no blocked resource (CSP)"


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
    tab_to(second, "#quick-exit", [])  # keyboard reachable: Tab to the button, Enter
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
    page.fill("#username", "outreach-groningen")  # straight from the page that asked
    page.fill("#password", seed.OUTREACH_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{network.url}/outreach/referrals/new")  # the page first asked for
    assert httpx.get(f"{network.url}/sign-in").headers["cache-control"] == "no-store"


def _sight_referral(network: Network, region: str, km: int) -> str:
    """A referral only the test provider's service could take (sight support), within `km`."""
    body = referral_body(needs=["emergency_shelter"],
                         location={"region": region, "max_distance_km": km})
    body["eligibility"] = {"age": 30, "accessibility": ["sight"]}
    answer = httpx.post(f"{network.url}/api/v1/referrals", json=body, headers=_outreach(network))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _outreach(network: Network) -> dict[str, str]:
    return {"Authorization": f"Bearer {network.intake.token()}"}


def _settled(network: Network, referral: str, wanted: set[str]) -> dict[str, object]:
    """The referral once its status is one of `wanted` (a shared broker's long key topic can
    keep a fresh matching worker catching up for minutes: hence the generous limit)."""
    detail: dict[str, object] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        detail = httpx.get(f"{network.url}/api/v1/referrals/{referral}",
                           headers=_outreach(network)).json()
        if detail.get("status") in wanted:
            break
        time.sleep(0.5)
    return detail


@pytest.mark.slow
def test_the_distance_limit_holds_and_erasure_closes_the_providers_offer_live(
        network: Network, kafka_broker: KafkaSettings) -> None:
    """Issue 19, defects 2 and 1, through intake, matching and the notifier as processes.

    The only service with sight support is in Utrecht. A person in Noord-Holland who can
    go at most 20 km is not offered it (intake sends the region's centroid, matching's
    distance rule runs); a person in Utrecht is. Erasing that referral turns the open offer
    on the provider's open page into "Withdrawn" by itself, matching's consequence is
    projected without keys, and intake dead-letters nothing of it."""
    staff = network.page(STAFF, STAFF_PASSWORD)
    far = _sight_referral(network, "noord-holland", 20)
    assert _settled(network, far, {"returned", "offered"})["status"] == "returned", \
        "about 50 km away: the 20 km limit excludes the only service that fits"
    near = _sight_referral(network, "utrecht", 20)
    assert _settled(network, near, {"offered", "returned"})["status"] == "offered"
    staff.goto(f"{network.url}/provider/offers")
    expect(staff.locator("li.card[data-offer-status=open]")).to_have_count(1)
    card = staff.locator("#" + str(staff.locator("li.card[data-offer-status=open]")
                                   .get_attribute("id")))
    staff.evaluate("window.__notReloaded = true")
    starts = {topic: end_offsets(kafka_broker.bootstrap_servers, topic)
              for topic in ("referral.offers.dlq", "referral.status.dlq")}
    erased = httpx.post(f"{network.url}/api/v1/referrals/{near}/erase",
                        headers=_outreach(network))
    assert erased.status_code == 204, erased.text
    expect(card.locator("span.status")).to_have_text("Withdrawn", timeout=15_000)
    assert staff.evaluate("window.__notReloaded === true"), "withdrawn without a reload"
    kinds: list[str] = []
    deadline = time.monotonic() + 60
    while "erasure:applied" not in kinds and time.monotonic() < deadline:
        detail = httpx.get(f"{network.url}/api/v1/referrals/{near}", headers=_outreach(network))
        kinds = [item["kind"] for item in detail.json().get("timeline", [])]
        time.sleep(0.5)
    assert "erasure:applied" in kinds, kinds
    for topic, start in starts.items():
        ends = end_offsets(kafka_broker.bootstrap_servers, topic)
        letters = read_until(kafka_broker.bootstrap_servers, topic, start=start, timeout_s=5,
                             done=lambda got, ends=ends, start=start: reached(got, ends, start))
        assert [r for r in letters if r.key == near.encode()] == [], f"dead letters on {topic}"
    staff.reload()
    expect(card).to_contain_text("data were erased")
    expect(staff.get_by_role("button", name="Accept")).to_have_count(0)
    shot(staff, "provider-offer-withdrawn-on-erasure")
