"""Stand-ins for the world outside the notifier: a real SMTP server, an HTTP receiver.

Both record every request they get, raw, so a test can count duplicates, and both
answer the notifier's lookup (did you get this message?) as a provider would. The
HTTP receiver plays both a partner's webhook endpoint (it verifies signatures
and refuses replays with the documented method) and an SMS gateway; it can be
told to answer the next requests with a failure status.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from services.notifier.webhook_signature import SeenIds, WebhookRejected, verify
from tests.support.processes import free_port


@dataclass
class Mail:
    message_id: str
    to: str
    subject: str
    text: str
    at: float = field(default_factory=time.time)  # when the server took it


class _Recorder:
    def __init__(self, delay_s: float) -> None:
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.delay_s = delay_s

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed: Message = message_from_bytes(envelope.content)
        body = parsed.get_payload(decode=True)
        text = body.decode() if isinstance(body, bytes) else str(parsed.get_payload())
        with self.lock:
            self.mails.append(Mail(str(parsed["Message-ID"]).strip("<>").split("@")[0],
                                   ",".join(envelope.rcpt_tos), str(parsed["Subject"]), text))
        await asyncio.sleep(self.delay_s)  # a slow server: the sender waits for the 250
        return "250 Message accepted for delivery"


class _MessageSearch:
    """A mail provider's lookup by Message-ID: `GET /messages/<id>`, 200 if it has it, else 404."""

    def __init__(self, has: Callable[[str], bool]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200 if has(self.path.rsplit("/", 1)[-1]) else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpStandIn:
    """aiosmtpd on a free local port, recording every accepted message; with a lookup."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.port = free_port()
        self._recorder = _Recorder(delay_s)
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port)
        self._search = _MessageSearch(lambda message_id: message_id in self.counts())
        self.lookup_url = f"http://127.0.0.1:{self._search.port}/messages"

    def __enter__(self) -> SmtpStandIn:
        self._controller.start()
        self._search.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._search.stop()
        self._controller.stop()

    @property
    def mails(self) -> list[Mail]:
        with self._recorder.lock:
            return list(self._recorder.mails)

    def counts(self) -> Counter[str]:
        return Counter(mail.message_id for mail in self.mails)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: str  # "accepted", or why the receiver refused it
    at: float = field(default_factory=time.time)

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class HttpStandIn:
    """A local HTTP server: `/hook/<name>` verifies webhooks, `/sms` plays the gateway."""

    secrets: dict[str, bytes] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, in order
    fail_by_path: dict[str, list[int]] = field(default_factory=dict)  # the same, per path
    delay_s: float = 0.0  # recorded at once, answered after this: a kill can fall in between

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = SeenIds(time.time)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = stand_in._take(self.path, dict(self.headers.items()), body)
                time.sleep(stand_in.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                status = 200 if stand_in.has_sms(self.path.rsplit("/", 1)[-1]) else 404
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HttpStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _take(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            failures = self.fail_by_path.get(path) or self.fail_next
            if failures:
                status = failures.pop(0)
                self.received.append(Received(path, headers, body, f"answered-{status}"))
                return status
            verdict = "accepted"
            secret = self.secrets.get(path)
            if secret is not None:
                try:
                    verify(secret, headers, body, now=time.time(), seen=self._seen)
                except WebhookRejected as rejection:
                    verdict = rejection.reason
            self.received.append(Received(path, headers, body, verdict))
            return 200 if verdict in ("accepted", "replayed") else 401

    def has_sms(self, reference: str) -> bool:
        """The gateway's lookup: did an accepted message with this reference arrive?"""
        return any(json.loads(r.body).get("reference") == reference
                   for r in self.requests("/sms") if r.verdict == "accepted")

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]
