"""Server-sent events: statuses of the things a page shows, sent when they change.

A stream polls intake's own database once a second (decision 14) and closes after
`HAVEN_PAGES_LIVE_SECONDS`; the browser's EventSource reconnects by itself. The
label of each status comes from the templates' macros, so its words stay there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from services.intake.pages.web import SAFE_HEADERS, TEMPLATES, settings


def stream_statuses(request: Request, read: Callable[[], dict[str, str]],
                    macro: str) -> StreamingResponse:
    """Send `event: status` with id, status and its label for each change `read` reveals."""
    lifetime = settings(request).live_seconds
    label_of = getattr(TEMPLATES.env.get_template("macros.html").module, macro)

    async def events() -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        loop = asyncio.get_running_loop()
        ends = loop.time() + lifetime
        yield "retry: 2000\n\n"
        while loop.time() < ends and not await request.is_disconnected():
            for key, status in (await run_in_threadpool(read)).items():
                if sent.get(key) != status:
                    sent[key] = status
                    data = json.dumps({"id": key, "status": status,
                                       "label": str(label_of(status)).strip()})
                    yield f"event: status\ndata: {data}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SAFE_HEADERS)
