"""Channels: one small port, four adapters (webhook, SMTP e-mail, SMS gateway, in-app inbox).

An adapter either returns (the receiver took the message), raises `Transient`
(try again later: timeouts, 5xx, 429, a busy mail server) or `Permanent` (trying
again cannot help: 4xx, a refused address). Every adapter sends the notification
id along (Haven-Delivery-Id, Message-ID, the gateway's reference) so a receiver
can drop a repeat. Errors carry codes, never addresses or message text.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

import aiohttp

from services.notifier.model import Channel
from services.notifier.webhook_signature import sign
from shared.events import InboxMessagePosted


class Transient(Exception):
    """The send may work later; `reason` is a code for logs and alerts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Permanent(Transient):
    """The send will not work by trying again."""


@dataclass(frozen=True)
class Outgoing:
    """A rendered message for one address on one channel."""

    notification_id: str
    channel: Channel
    address: str
    subject: str
    text: str
    data: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Reconciling(Protocol):
    """A channel whose provider can say afterwards whether it got a message."""

    async def received(self, notification_id: str) -> bool | None: ...


class ChannelPort(Protocol):
    """What the notifier needs from a channel: send one message or say why not."""

    name: Channel

    async def send(self, message: Outgoing) -> None: ...


def _http_failure(status: int) -> Transient:
    if status in (408, 425, 429) or status >= 500:
        return Transient(f"http-{status}")
    return Permanent(f"http-{status}")


class WebhookChannel:
    """POSTs JSON to the organization's URL, HMAC-signed with its secret (webhook_signature)."""

    name: Channel = "webhook"

    def __init__(self, *, secrets: Callable[[str], bytes],
                 session: Callable[[], aiohttp.ClientSession],
                 clock: Callable[[], float] = time.time) -> None:
        self._secrets = secrets
        self._session = session
        self._clock = clock

    async def send(self, message: Outgoing) -> None:
        body = json.dumps({"notification_id": message.notification_id, "title": message.subject,
                           "text": message.text, **message.data}, sort_keys=True).encode()
        headers = sign(self._secrets(message.address), delivery_id=message.notification_id,
                       body=body, now=self._clock())
        await _post(self._session(), message.address, body,
                    {**headers, "Content-Type": "application/json"})


class DeliveryLookup:
    """Asks a provider afterwards whether it took a message: `GET {url}/{notification id}`.

    200 means it has the message, 404 that it never got it; anything else, or no answer,
    means nobody can tell (None). The SMS gateway's reference and the e-mail's Message-ID
    are the notification id, so a provider's own message search answers this directly
    or through a small adapter (docs/notifier.md).
    """

    def __init__(self, *, url: str, headers: Callable[[], dict[str, str]],
                 session: Callable[[], aiohttp.ClientSession]) -> None:
        self._url = url
        self._headers = headers
        self._session = session

    async def received(self, notification_id: str) -> bool | None:
        if not self._url:
            return None
        url = f"{self._url.rstrip('/')}/{notification_id}"
        try:
            async with self._session().get(url, headers=self._headers(),
                                           timeout=aiohttp.ClientTimeout(total=10)) as answer:
                return {200: True, 404: False}.get(answer.status)
        except (aiohttp.ClientError, TimeoutError):
            return None


class SmsGatewayChannel:
    """POSTs to an HTTP SMS gateway: `{"to", "text", "reference"}` with a bearer token."""

    name: Channel = "sms"

    def __init__(self, *, url: str, username: str | None, token: str | None,
                 session: Callable[[], aiohttp.ClientSession], lookup_url: str = "") -> None:
        self._url = url
        self._username = username
        self._token = token
        self._session = session
        self._lookup = DeliveryLookup(url=lookup_url, headers=self._headers, session=session)

    async def received(self, notification_id: str) -> bool | None:
        """Whether the gateway has this message (by its reference); None when it cannot say."""
        return await self._lookup.received(notification_id)

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        if self._username:
            headers["X-Gateway-User"] = self._username
        return headers

    async def send(self, message: Outgoing) -> None:
        if not self._url:
            raise Permanent("sms-gateway-not-configured")
        body = json.dumps({"to": message.address, "text": message.text,
                           "reference": message.notification_id}).encode()
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": message.notification_id, **self._headers()}
        await _post(self._session(), self._url, body, headers)


async def _post(session: aiohttp.ClientSession, url: str, body: bytes,
                headers: dict[str, str]) -> None:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status >= 300:
                raise _http_failure(response.status)
    except (TimeoutError, aiohttp.ClientConnectionError) as error:
        raise Transient("connection") from error
    except aiohttp.InvalidURL as error:
        raise Permanent("invalid-url") from error


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


class SmtpChannel:
    """Any SMTP server, through the standard library in a worker thread.

    SMTP cannot say afterwards whether a message arrived (RFC 1047: the server may
    have taken it while the sender died waiting for the "250"). With a `lookup` (the
    mail provider's message search by Message-ID) a message a crash left in doubt is
    settled instead of sent twice.
    """

    name: Channel = "email"

    def __init__(self, config: SmtpConfig, lookup: DeliveryLookup | None = None) -> None:
        self._config = config
        self._lookup = lookup

    async def received(self, notification_id: str) -> bool | None:
        """Whether the mail provider has this Message-ID; None when there is nobody to ask."""
        return None if self._lookup is None else await self._lookup.received(notification_id)

    async def send(self, message: Outgoing) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: Outgoing) -> None:
        config = self._config
        mail = EmailMessage()
        mail["From"] = config.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        # The notification id doubles as the Message-ID: a receiver can drop a repeat.
        mail["Message-ID"] = f"<{message.notification_id}@haven.invalid>"
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
                if config.starttls:
                    smtp.starttls()
                if config.username and config.password:
                    smtp.login(config.username, config.password)
                smtp.send_message(mail)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
            raise Permanent("smtp-refused") from error
        except smtplib.SMTPResponseException as error:
            raise (Permanent if 500 <= error.smtp_code < 600 else Transient)(
                f"smtp-{error.smtp_code}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise Transient("smtp-connection") from error


def inbox_message(message: Outgoing, posted_at: datetime) -> InboxMessagePosted:
    """The inbox event for a rendered message: the organization is the address, and title
    and body are the rendered subject and text (de-identified by the templates)."""
    return InboxMessagePosted(
        notification_id=message.notification_id, referral_id=message.data["referral_id"],
        organization_id=message.address, title=message.subject, body=message.text,
        posted_at=posted_at)


class InboxChannel:
    """Posts to the in-app inbox: an event intake shows (sealed for intake and the org)."""

    name: Channel = "inbox"

    def __init__(self, post: Callable[[Outgoing], Awaitable[None]]) -> None:
        self._post = post

    async def send(self, message: Outgoing) -> None:
        await self._post(message)
