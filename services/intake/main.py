"""The intake app factory: the only place that wires routers, settings and adapters."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.api import health
from shared.kafka import BrokerProbe
from shared.settings import IntakeSettings, KafkaSettings

log = logging.getLogger("haven.intake")


def create_app(*, intake: IntakeSettings, kafka: KafkaSettings) -> FastAPI:
    """Build the ASGI app; connections are opened per request or in the lifespan, never here."""
    app = FastAPI(title="Haven intake", version="1", openapi_url="/openapi.json")
    app.state.settings = intake
    app.state.broker_probe = BrokerProbe(kafka)
    app.include_router(health.router)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """A bug must not leak a stack trace or request data to the caller; it is logged by type."""
    log.error("unhandled error", extra={"reason": type(error).__name__})
    return JSONResponse(
        {"detail": "Something went wrong on our side. The request was not processed; "
                   "please try again, and tell your network admin if it keeps happening."},
        status_code=500,
    )
