"""Server-rendered pages for the three roles, mounted on the intake app by `install`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.intake.pages import admin, audit, inbox, outreach, provider, sign_in
from services.intake.pages.broker_stats import CachedBrokerNumbers
from services.intake.pages.settings import PagesSettings
from services.intake.pages.web import PageError, error_page
from shared.settings import KafkaSettings, MatchingSettings, NotifierSettings

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, *, settings: PagesSettings, production: bool,
            kafka: KafkaSettings) -> None:
    """Mount the page routers and static files; none of them is part of the API schema."""
    if production and settings.secure_cookies is False:
        raise ValueError("HAVEN_PAGES_SECURE_COOKIES=false is refused in production: "
                         "every cookie is sent over HTTPS only there")
    app.state.pages = settings
    app.state.pages_production = production
    # Consumer groups: intake's projector, and the Faust apps (group id = app id).
    app.state.pages_broker = CachedBrokerNumbers(kafka, {
        "intake": "haven-intake", "matching": MatchingSettings().app_id,
        "notifier": NotifierSettings().app_id})
    for router in (sign_in.router, outreach.router, provider.router, inbox.router,
                   admin.router, audit.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(PageError, error_page)
