"""The intake app factory: the only place that wires routers, settings, stores and workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import ASGIApp

from services.intake import errors, handlers, hygiene, pages
from services.intake.api import (
    admin,
    auth,
    contract,
    directory,
    health,
    hsds_api,
    inbox,
    me,
    offers,
    referrals,
)
from services.intake.audit_chain import link_audit_entries
from services.intake.db import create_db_engine, migrate
from services.intake.directory import handlers as directory_handlers
from services.intake.handlers import Ports
from services.intake.hygiene import ResponseHygiene
from services.intake.limits import BodySizeLimit
from services.intake.outbox import OutboxRelay
from services.intake.pages.settings import PagesSettings
from services.intake.projector import Projector
from services.intake.throttle import SignInThrottle, ThrottleSettings
from services.intake.vault import Vault, load_key, load_or_create_key
from services.intake.watch.rules import WatchPolicy
from services.intake.watch.watchdog import Watchdog
from shared.identity import service_codec
from shared.kafka import BrokerProbe, EventPublisher, create_producer
from shared.recipients import INTAKE
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings

SOURCE = "/haven/intake"
log = logging.getLogger("haven.intake")
ROUTERS = (health.router, auth.router, me.router, referrals.router, offers.router,
           inbox.router, directory.router, hsds_api.router, admin.router)


def create_app(
    *, intake: IntakeSettings, kafka: KafkaSettings, runtime: RuntimeSettings,
    background: bool = True,
) -> FastAPI:
    """Build the ASGI app; the database is migrated and workers start in the lifespan."""
    engine = create_db_engine(intake.effective_database_url(runtime))
    ports = build_ports(intake=intake, kafka=kafka, runtime=runtime)
    codec, grants = ports.codec, ports.grants
    assert grants is not None

    def connect() -> EventPublisher:
        return EventPublisher(create_producer(kafka, client_id="haven-intake"), codec)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(engine)
        stop = threading.Event()
        projector = Projector(engine, connect, kafka, grants=app.state.ports.grants)
        threads = _background_workers(engine, connect, app.state.ports, projector, stop,
                                      timedelta(hours=intake.capacity_stale_after_hours))
        watch = watchdog(engine, intake, app.state.ports.vault,
                         view_current_since=projector.view_current_since)
        threads.append(threading.Thread(target=watch.run, args=(stop,), name="watchdog",
                                        daemon=True))
        if background:
            grants.start()
            for thread in threads:
                thread.start()
        yield
        stop.set()
        if background:
            for thread in threads:
                thread.join(timeout=30)
            grants.stop()
        engine.dispose()

    production = runtime.environment == "production"
    docs = not production if intake.api_docs is None else intake.api_docs
    # In production even with docs on only the schema is served: the docs pages would load
    # Swagger UI and ReDoc from a CDN.
    app = FastAPI(title="Haven intake", version="1", lifespan=lifespan,
                  openapi_url="/openapi.json" if docs else None,
                  docs_url="/docs" if docs and not production else None,
                  redoc_url="/redoc" if docs and not production else None)
    app.state.engine = engine
    keys = runtime.var_dir / "keys"
    app.state.token_secret = (intake.token_secret.get_secret_value() if intake.token_secret
                              else load_or_create_key(keys / "intake-token.key").hex())
    app.state.ports = ports
    app.state.sign_in_throttle = SignInThrottle(ThrottleSettings(),
                                                secret=app.state.token_secret)
    app.state.broker_probe = BrokerProbe(kafka)
    app.state.capacity_stale_after_hours = intake.capacity_stale_after_hours
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    contract.install(app)
    pages.install(app, settings=PagesSettings(), production=production, kafka=kafka)
    app.add_middleware(BodySizeLimit)
    _outermost(app, lambda inner: ResponseHygiene(
        inner, https_only=production,
        html_policies=dict.fromkeys(hygiene.DEV_DOCS_PATHS, hygiene.DEV_DOCS_CSP)))
    return app


def _outermost(app: FastAPI, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put `wrap` around the whole stack, Starlette's server-error middleware included, so
    that a 500 (and a 413 of the body-size limit) carries the safe headers too."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: wrap(build())  # type: ignore[method-assign]


def build_ports(*, intake: IntakeSettings, kafka: KafkaSettings,
                runtime: RuntimeSettings) -> Ports:
    """The vault and the codec intake writes with (also used by operator commands)."""
    vault = load_vault(intake=intake, runtime=runtime)
    # Outbox transactions can roll back after encoding: never reuse a grant across them.
    codec, sealed, grants = service_codec(INTAKE, source=SOURCE, runtime=runtime, kafka=kafka,
                                          reuse_grants=False, index_all_grants=True)
    return Ports(vault=vault, codec=codec, sealed=sealed, grants=grants)


def load_vault(*, intake: IntakeSettings, runtime: RuntimeSettings) -> Vault:
    """The vault over intake's key-encryption key."""
    path = intake.effective_data_key_file(runtime)
    # Production: a missing key-encryption key stops the start; a new one would leave every
    # sealed field unreadable. Only `haven keys init` makes it. Development makes its own.
    kek = load_key(path) if runtime.environment == "production" else load_or_create_key(path)
    return Vault(kek)


def _background_workers(
    engine: Engine, connect: Callable[[], EventPublisher], ports: Ports, projector: Projector,
    stop: threading.Event, stale_after: timedelta,
) -> list[threading.Thread]:
    relay = OutboxRelay(engine, connect)
    return [
        threading.Thread(target=relay.run, args=(stop,), name="outbox-relay", daemon=True),
        threading.Thread(target=projector.run, args=(stop,), name="projector", daemon=True),
        threading.Thread(target=_retention, args=(engine, ports, stop, stale_after),
                         name="retention", daemon=True),
        threading.Thread(target=link_audit_entries, args=(engine, ports.vault.audit_key, stop),
                         name="audit-chain", daemon=True),
    ]


def watchdog(engine: Engine, intake: IntakeSettings, vault: Vault, *,
             view_current_since: Callable[[], datetime | None]) -> Watchdog:
    """The watch that nothing stays stuck silently, with the configured periods."""
    policy = WatchPolicy(silent_after=timedelta(seconds=intake.watch_silent_after_s),
                         alert_after=timedelta(seconds=intake.watch_alert_after_s))
    return Watchdog(engine, policy, vault=vault, interval_s=intake.watch_interval_s,
                    view_current_since=view_current_since)


def _retention(engine: Engine, ports: Ports, stop: threading.Event,
               stale_after: timedelta) -> None:
    """Once a minute: erase referrals past retention, tombstone grants that raced erasure,
    and ask for reminders about capacity nobody confirmed in time."""
    while not stop.wait(60.0):
        try:
            with Session(engine) as session:
                now = datetime.now(UTC)
                handlers.erase_expired(session=session, ports=ports, now=now)
                handlers.sweep_late_grants(session=session, ports=ports, now=now)
                directory_handlers.remind_stale(session=session, ports=ports, now=now,
                                                stale_after=stale_after)
                session.commit()
        except Exception as error:  # a failed round is retried next minute, never fatal
            log.warning("retention round failed", extra={"reason": type(error).__name__})
