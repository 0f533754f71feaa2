"""Safe headers on every response of the intake, API and pages alike.

The pages set their own (pages/web.py); API answers carry referral data too, so
they must not be cached by a browser or a proxy, nor sniffed into something
executable. This middleware adds what a response lacks: `nosniff` everywhere,
`Cache-Control: no-store` on everything but the static assets, a strict CSP on
any HTML; and when the deployment is served over HTTPS only (production) HSTS and
the `Secure` flag on every cookie, whichever code set it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# FastAPI's interactive docs load Swagger UI and ReDoc from a CDN with an inline script:
# allowed for those pages only, and only in development (production serves no docs pages).
DEV_DOCS_CSP = ("default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
                "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
                "font-src https://fonts.gstatic.com; img-src 'self' data: "
                "https://fastapi.tiangolo.com https://cdn.redoc.ly; connect-src 'self'; "
                "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DEV_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HSTS = "max-age=63072000; includeSubDomains"
# Static assets (CSS, JS, images of the pages) hold no referral data and may be cached.
CACHEABLE_PREFIXES = ("/static/",)


class ResponseHygiene:
    """Adds the safe headers a response does not set itself (pure ASGI, so streams stay
    streams). `html_policies` gives other CSPs for a few paths (the development API docs)."""

    def __init__(self, app: ASGIApp, *, https_only: bool = False,
                 html_policies: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.https_only = https_only
        self.html_policies = dict(html_policies or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, with_headers)

    def _add(self, headers: MutableHeaders, path: str) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if not path.startswith(CACHEABLE_PREFIXES):
            headers.setdefault("Cache-Control", "no-store")
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault("Content-Security-Policy",
                               self.html_policies.get(path, STRICT_CSP))
            headers.setdefault("X-Frame-Options", "DENY")
        if self.https_only:
            headers.setdefault("Strict-Transport-Security", HSTS)
            _secure_cookies(headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    """Every Set-Cookie (a session, a CSRF token, a deletion) travels over HTTPS only."""
    raw = headers.raw
    for index, (name, value) in enumerate(raw):
        if name == b"set-cookie" and b"secure" not in [
                part.strip().lower() for part in value.split(b";")[1:]]:
            raw[index] = (name, value + b"; Secure")
