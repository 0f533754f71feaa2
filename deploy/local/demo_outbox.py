"""`make up`'s stand-in for the world outside: a mail server and an SMS gateway on loopback.

A demo has no real SMTP relay or SMS provider, and without one every notification
would fail and raise an admin alert. This process plays both, as the notifier's
real adapters expect them (docs/notifier.md): SMTP on `HAVEN_DEMO_SMTP_PORT`, and
on `HAVEN_DEMO_OUTBOX_PORT` the gateway (`POST /sms`), the lookups that settle a
message a crash left in doubt (`GET /sms/<reference>`, `GET /mail/<id>`) and a
page listing what was "sent" (`GET /`). Every message is kept as a file under
`var/outbox/` (mode 0700): the demo people are invented, but the folder plays
their phones and mailboxes, so it is nobody else's to read. Never used in
production: `haven up` starts it only outside production.
"""

from __future__ import annotations

import html
import json
import os
import signal
import threading
import time
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select

from services.intake.db import create_db_engine
from services.intake.models import Organization
from shared.settings import IntakeSettings, NotifierSettings, RuntimeSettings

SMTP_PORT = int(os.environ.get("HAVEN_DEMO_SMTP_PORT", "2525"))
HTTP_PORT = int(os.environ.get("HAVEN_DEMO_OUTBOX_PORT", "8025"))


def notifier_environment() -> dict[str, str]:
    """What the notifier needs to send through this outbox (the operator's own settings win)."""
    base = f"http://127.0.0.1:{HTTP_PORT}"
    wanted = {"HAVEN_NOTIFIER_SMTP_HOST": "127.0.0.1",
              "HAVEN_NOTIFIER_SMTP_PORT": str(SMTP_PORT),
              "HAVEN_NOTIFIER_EMAIL_LOOKUP_URL": f"{base}/mail",
              "HAVEN_NOTIFIER_SMS_GATEWAY_URL": f"{base}/sms",
              "HAVEN_NOTIFIER_SMS_GATEWAY_LOOKUP_URL": f"{base}/sms"}
    return {name: value for name, value in wanted.items() if name not in os.environ}


def subscribe_demo_organizations(runtime: RuntimeSettings, intake: IntakeSettings) -> int:
    """Every demo organization hears by in-app inbox and e-mail (to the outbox), unless the
    subscriptions file exists already: then it is the operator's, and left alone."""
    path = NotifierSettings().effective_subscriptions_file(runtime)
    if path.exists():
        return 0
    engine = create_db_engine(intake.effective_database_url(runtime))
    with Session(engine) as session:
        organizations = [{"organization_id": str(o.id), "name": o.name, "language": "en",
                          "email": o.email or None, "inbox": True}
                         for o in session.exec(select(Organization).where(
                             col(Organization.active)))]
    engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"organizations": organizations}, indent=1), encoding="utf-8")
    return len(organizations)


class Outbox:
    """The folder of sent messages: one file per message, named by its id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for kind in ("mail", "sms"):
            (folder / kind).mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        self._lock = threading.Lock()

    def keep(self, kind: str, message_id: str, content: bytes) -> None:
        """Keep a message; a repeat with the same id is kept beside it, so it shows."""
        safe = _file_name(message_id)
        with self._lock:
            path = self.folder / kind / safe
            copy = 1
            while path.exists():
                copy += 1
                path = self.folder / kind / f"{safe}.repeat-{copy}"
            path.write_bytes(content)

    def has(self, kind: str, message_id: str) -> bool:
        return (self.folder / kind / _file_name(message_id)).is_file()

    def listing(self) -> list[tuple[str, str, float]]:
        """(kind, file name, modified time), newest first."""
        found = [(kind, path.name, path.stat().st_mtime) for kind in ("mail", "sms")
                 for path in (self.folder / kind).iterdir()]
        return sorted(found, key=lambda item: -item[2])


def _file_name(message_id: str) -> str:
    """The id as a plain file name: nothing in it can lead out of the outbox folder."""
    kept = "".join(c for c in message_id if c.isalnum() or c in "-_")[:120]
    return kept or "unnamed"


class _MailHandler:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed: Message = message_from_bytes(envelope.content)
        message_id = str(parsed.get("Message-ID", "")).strip("<>").split("@")[0]
        self.outbox.keep("mail", message_id, envelope.content)
        return "250 Message accepted for delivery"


def _http_handler(outbox: Outbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                reference = str(json.loads(body)["reference"]) if self.path == "/sms" else ""
            except (ValueError, KeyError, TypeError):
                reference = ""
            if not reference:
                self._answer(400 if self.path == "/sms" else 404)
                return
            outbox.keep("sms", reference, body)
            self._answer(200)

        def do_GET(self) -> None:  # noqa: N802
            kind, _, message_id = self.path.strip("/").partition("/")
            if kind in ("mail", "sms") and message_id:
                self._answer(200 if outbox.has(kind, message_id) else 404)
            elif self.path == "/":
                self._answer(200, _page(outbox).encode(), "text/html; charset=utf-8")
            else:
                self._answer(404)

        def _answer(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return  # the requests carry phone numbers: nothing of them goes to a log

    return Handler


def _page(outbox: Outbox) -> str:
    rows = "".join(
        f"<tr><td>{kind}</td><td>{html.escape(name)}</td>"
        f"<td>{time.strftime('%H:%M:%S', time.localtime(at))}</td></tr>"
        for kind, name, at in outbox.listing())
    return ("<!doctype html><title>Haven demo outbox</title><h1>Demo outbox</h1>"
            f"<p>Messages the notifier sent, kept in {html.escape(str(outbox.folder))}.</p>"
            f"<table><tr><th>kind</th><th>message</th><th>at</th></tr>{rows}</table>")


def main() -> None:
    """Serve until SIGTERM or Ctrl-C."""
    runtime = RuntimeSettings()
    if runtime.environment == "production":
        raise SystemExit("the demo outbox is never used in production")
    outbox = Outbox(runtime.var_dir / "outbox")
    smtp = Controller(_MailHandler(outbox), hostname="127.0.0.1", port=SMTP_PORT)
    smtp.start()
    web = ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), _http_handler(outbox))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    threading.Thread(target=web.serve_forever, daemon=True).start()
    print(f"outbox ready: smtp 127.0.0.1:{SMTP_PORT}, http://127.0.0.1:{HTTP_PORT}/",
          flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    web.shutdown()
    smtp.stop()


if __name__ == "__main__":
    main()
