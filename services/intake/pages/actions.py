"""Running one use case from a posted form: its own transaction, refusals as pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from services.intake.consent import ConsentProblem
from services.intake.directory.handlers import Forbidden, InvalidDirectoryData
from services.intake.handlers import Conflict, NotFound
from services.intake.pages.web import PageError

# Each domain refusal keeps the status code the API gives it; the message is the domain's.
DOMAIN_ERRORS: dict[type[Exception], int] = {
    NotFound: 404, Forbidden: 403, Conflict: 409, InvalidDirectoryData: 422,
    ConsentProblem: 422}


async def run_use_case(request: Request, change: Callable[[Session, datetime], object]) -> None:
    """Call `change(session, now)` and commit; a domain refusal becomes a readable 4xx page."""

    def run() -> None:
        with Session(request.app.state.engine) as session:
            change(session, datetime.now(UTC))
            session.commit()

    try:
        await run_in_threadpool(run)
    except tuple(DOMAIN_ERRORS) as refused:
        status = next(code for kind, code in DOMAIN_ERRORS.items() if isinstance(refused, kind))
        raise PageError(status, str(refused)) from refused
