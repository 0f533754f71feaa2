"""Liveness and readiness: what an orchestrator and `make up` poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shared.kafka import BrokerProbe

router = APIRouter(tags=["health"])


def _probe(request: Request) -> BrokerProbe:
    probe: BrokerProbe = request.app.state.broker_probe
    return probe


ProbeDep = Annotated[BrokerProbe, Depends(_probe)]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(probe: ProbeDep) -> JSONResponse:
    """Ready only when the broker answers, because intake cannot accept work without it."""
    if await run_in_threadpool(probe.ready):
        return JSONResponse({"status": "ready", "broker": "ok"})
    return JSONResponse({"status": "not ready", "broker": "unreachable"}, status_code=503)
