"""The notifier worker's wiring. For now it follows referral status; channels come with issue 7."""

from __future__ import annotations

import logging

import faust

from shared import topics
from shared.identity import service_codec
from shared.recipients import NOTIFIER
from shared.settings import KafkaSettings, RuntimeSettings, WorkerSettings
from shared.streams import create_faust_app, faust_topic, verified

SERVICE = "notifier"
log = logging.getLogger("haven.notifier")


def create_app(
    *, kafka: KafkaSettings, runtime: RuntimeSettings, worker: WorkerSettings
) -> faust.App:
    """Build the app; nothing connects until the worker starts."""
    app = create_faust_app(SERVICE, kafka=kafka, runtime=runtime,
                           web_port=worker.web_port)
    codec, _, grants = service_codec(NOTIFIER, source=f"/haven/{SERVICE}", runtime=runtime,
                                     kafka=kafka)
    status = faust_topic(app, topics.REFERRAL_STATUS)

    @app.task  # type: ignore[untyped-decorator]  # faust ships this one untyped
    async def follow_grants() -> None:
        grants.start()

    @app.agent(status, name="on_referral_status")
    async def on_referral_status(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE,
                                       grants=grants):
            log.info("status observed", extra={"event_type": envelope.attributes.type,
                                               "event_id": envelope.attributes.id})

    return app
