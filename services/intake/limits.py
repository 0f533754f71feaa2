"""Refuse oversized request bodies before anything parses them (a cheap denial of service)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 256 * 1024
# A real directory (a hundred organizations in HSDS's nested form) is about 0.6 MB;
# the import is for admins only, so it gets room for a large region's directory.
MAX_IMPORT_BYTES = 16 * 1024 * 1024
LARGER: dict[tuple[str, str], int] = {("POST", "/api/v1/directory/hsds"): MAX_IMPORT_BYTES,
                                      ("POST", "/api/v1/directory/hsds/tabular"):
                                      MAX_IMPORT_BYTES}


class BodySizeLimit:
    """413 with a plain message when a body is larger than the limit, declared or streamed.

    Referrals and forms are small; `larger` names the few routes (the HSDS import)
    whose documents are legitimately megabytes."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES,
                 larger: dict[tuple[str, str], int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = LARGER if larger is None else larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope.get("method", ""), scope.get("path", "")), self.limit)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        advice = ("Split the directory into several documents." if limit > self.limit
                  else "Shorten free-text fields and try again.")
        body = json.dumps({"detail": f"The request is too large (over {size}). {advice}"}
                          ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
