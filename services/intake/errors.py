"""Every failure answers with a message a person can act on; nothing else leaves the service."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from services.intake import problems as problems_words
from services.intake.accounts import RoleDoesNotFit
from services.intake.consent import ConsentProblem
from services.intake.directory.handlers import Forbidden, InvalidDirectoryData
from services.intake.directory.hsds import DocumentProblem
from services.intake.directory.hsds_tabular import TabularProblem
from services.intake.directory.regions import RegionProblem
from services.intake.handlers import Conflict, NotFound
from services.intake.vault import VaultError

log = logging.getLogger("haven.intake")


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "(request)"


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    """Field paths and plain-word messages; the values sent (and the names of unknown
    fields) are never echoed back."""
    assert isinstance(error, RequestValidationError)
    sent = {"body": error.body}
    problems = [{"field": _field(tuple(problems_words.location(item, sent))),
                 "message": problems_words.message(item)}
                for item in error.errors()]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    return JSONResponse({"detail": f"Please correct the request. {summary}", "errors": problems},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _consent(request: Request, error: Exception) -> JSONResponse:
    """A consent or a region that cannot be recorded as given: the field and why."""
    assert isinstance(error, ConsentProblem | RegionProblem)
    return JSONResponse({"detail": f"{error.field}: {error}",
                         "errors": [{"field": error.field, "message": str(error)}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _not_found(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_404_NOT_FOUND)


async def _conflict(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_409_CONFLICT)


async def _forbidden(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_403_FORBIDDEN)


async def _unprocessable(request: Request, error: Exception) -> JSONResponse:
    """A value the contract does not know; the message names the field, never the value."""
    field, _, message = str(error).partition(": ")
    return JSONResponse({"detail": f"Please correct the request. {error}",
                         "errors": [{"field": field, "message": message or str(error)}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _gone(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": "This referral's personal data were erased."},
                        status_code=status.HTTP_410_GONE)


async def _collision(request: Request, error: Exception) -> JSONResponse:
    """Two requests raced for the same unique thing (e.g. one Idempotency-Key at once)."""
    return JSONResponse({"detail": "This request collided with another one that arrived at the "
                                   "same moment. Nothing was saved twice; send it again."},
                        status_code=status.HTTP_409_CONFLICT)


async def _busy(request: Request, error: Exception) -> JSONResponse:
    """A locked or unreachable database is a retry, not a crash (the transaction rolled back)."""
    log.warning("database busy", extra={"reason": type(error).__name__})
    return JSONResponse({"detail": "The database is busy and nothing was saved. Please send "
                                   "the same request again in a few seconds."},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": "5"})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    """A bug must not leak a stack trace or request data; it is logged by type only."""
    log.error("unhandled error", extra={"reason": type(error).__name__})
    return JSONResponse(
        {"detail": "Something went wrong on our side and nothing was saved. Please try again, "
                   "and tell your network admin if it keeps happening."},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(ConsentProblem, _consent)
    app.add_exception_handler(RegionProblem, _consent)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(InvalidDirectoryData, _unprocessable)
    app.add_exception_handler(DocumentProblem, _unprocessable)
    app.add_exception_handler(TabularProblem, _unprocessable)
    app.add_exception_handler(RoleDoesNotFit, _unprocessable)
    app.add_exception_handler(VaultError, _gone)
    app.add_exception_handler(IntegrityError, _collision)
    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(Exception, _unexpected)
