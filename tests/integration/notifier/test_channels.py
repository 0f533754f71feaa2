"""One contract for every channel adapter, against real local servers (no broker needed).

Each adapter must deliver the message with its notification id for dedupe, call a
failure that may pass `Transient` and one that cannot `Permanent`, and never put
the address or the text into the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import pytest

from services.notifier.channels import (
    ChannelPort,
    DeliveryLookup,
    InboxChannel,
    Outgoing,
    Permanent,
    SmsGatewayChannel,
    SmtpChannel,
    SmtpConfig,
    Transient,
    WebhookChannel,
)
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn
from tests.support.processes import free_port

SECRET = b"whsec-test-only"


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with SmtpStandIn() as server:
        yield server


@pytest.fixture
def http() -> Iterator[HttpStandIn]:
    with HttpStandIn(secrets={"/hook": SECRET}) as server:
        yield server


def message(channel: str, address: str, notification_id: str = "ntf-contract-1") -> Outgoing:
    return Outgoing(notification_id=notification_id, channel=channel,  # type: ignore[arg-type]
                    address=address, subject="A quick note", text="CANARY-TEXT update",
                    data={"referral_id": "r-1", "event": "survivor_update"})


def send(make: Callable[[Callable[[], aiohttp.ClientSession]], ChannelPort],
         outgoing: Outgoing) -> None:
    """Run one send in a fresh loop with a session of its own, as the worker does."""

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await make(lambda: session).send(outgoing)

    asyncio.run(go())


def smtp_channel(port: int) -> Callable[[Callable[[], aiohttp.ClientSession]], ChannelPort]:
    return lambda _: SmtpChannel(SmtpConfig(host="127.0.0.1", port=port,
                                            sender="haven@example.invalid", timeout_s=5))


def webhook() -> Callable[[Callable[[], aiohttp.ClientSession]], ChannelPort]:
    return lambda session: WebhookChannel(secrets=lambda url: SECRET, session=session)


def gateway(url: str) -> Callable[[Callable[[], aiohttp.ClientSession]], ChannelPort]:
    return lambda session: SmsGatewayChannel(url=url, username="haven", token="test-token",
                                             session=session)


def test_smtp_delivers_with_the_notification_id_as_message_id(smtp: SmtpStandIn) -> None:
    send(smtp_channel(smtp.port), message("email", "person@example.invalid"))
    [mail] = smtp.mails
    assert (mail.message_id, mail.to, mail.subject) == (
        "ntf-contract-1", "person@example.invalid", "A quick note")
    assert "CANARY-TEXT update" in mail.text


def test_smtp_refused_address_is_permanent_and_a_dead_server_transient(
        smtp: SmtpStandIn) -> None:
    with pytest.raises(Permanent) as refused:
        send(smtp_channel(smtp.port), message("email", "refused@example.invalid"))
    assert "example.invalid" not in str(refused.value) and smtp.mails == []
    with pytest.raises(Transient) as down:
        send(smtp_channel(free_port()), message("email", "person@example.invalid"))
    assert not isinstance(down.value, Permanent)


def test_after_a_crash_the_mail_providers_lookup_says_which_message_it_has(
        smtp: SmtpStandIn) -> None:
    send(smtp_channel(smtp.port), message("email", "person@example.invalid"))

    async def ask(url: str, notification_id: str) -> bool | None:
        async with aiohttp.ClientSession() as session:
            lookup = DeliveryLookup(url=url, headers=dict, session=lambda: session)
            channel = SmtpChannel(SmtpConfig(host="127.0.0.1", port=smtp.port,
                                             sender="haven@example.invalid"), lookup=lookup)
            return await channel.received(notification_id)

    assert asyncio.run(ask(smtp.lookup_url, "ntf-contract-1")) is True
    assert asyncio.run(ask(smtp.lookup_url, "ntf-never-sent")) is False
    # Nobody to ask, or nobody answering: unknown, never a guess.
    assert asyncio.run(ask("", "ntf-contract-1")) is None
    assert asyncio.run(ask(f"http://127.0.0.1:{free_port()}/messages", "ntf-contract-1")) is None


def test_webhook_is_signed_and_verified_by_the_receiver(http: HttpStandIn) -> None:
    send(webhook(), message("webhook", http.url("/hook")))
    [request] = http.requests("/hook")
    assert request.verdict == "accepted"
    assert request.json()["notification_id"] == "ntf-contract-1"
    assert request.headers["Haven-Delivery-Id"] == "ntf-contract-1"


def test_webhook_resent_with_the_same_id_is_refused_as_a_replay(http: HttpStandIn) -> None:
    for _ in range(2):
        send(webhook(), message("webhook", http.url("/hook")))
    assert [r.verdict for r in http.requests("/hook")] == ["accepted", "replayed"]


@pytest.mark.parametrize(("status", "kind"), [(503, Transient), (429, Transient),
                                              (500, Transient), (400, Permanent),
                                              (404, Permanent)])
def test_http_statuses_say_whether_to_try_again(http: HttpStandIn, status: int,
                                                kind: type[Exception]) -> None:
    for make, path in ((webhook(), "/hook"), (gateway(http.url("/sms")), "/sms")):
        http.fail_next = [status]
        with pytest.raises(Transient) as failed:
            send(make, message("sms", http.url(path)))
        assert type(failed.value) is kind and failed.value.reason == f"http-{status}"


def test_sms_gateway_gets_number_text_reference_and_credentials(http: HttpStandIn) -> None:
    send(gateway(http.url("/sms")), message("sms", "+00 000000042"))
    [request] = http.requests("/sms")
    assert request.json() == {"to": "+00 000000042", "text": "CANARY-TEXT update",
                              "reference": "ntf-contract-1"}
    assert request.headers["Authorization"] == "Bearer test-token"
    assert request.headers["Idempotency-Key"] == "ntf-contract-1"


def test_unreachable_http_partners_are_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    for make in (webhook(), gateway(url)):
        with pytest.raises(Transient) as failed:
            send(make, message("webhook", url))
        assert failed.value.reason == "connection" and url not in str(failed.value)


def test_an_unconfigured_sms_gateway_is_a_permanent_failure() -> None:
    with pytest.raises(Permanent):
        send(gateway(""), message("sms", "+00 000000042"))


def test_inbox_hands_the_message_to_its_poster() -> None:
    posted: list[Outgoing] = []

    async def post(outgoing: Outgoing) -> None:
        posted.append(outgoing)

    poster: Callable[[Outgoing], Awaitable[None]] = post
    send(lambda _: InboxChannel(poster), message("inbox", "org-1"))
    assert [p.notification_id for p in posted] == ["ntf-contract-1"]
