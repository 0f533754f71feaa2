"""The matching worker's wiring: settings in, a Faust app with its agents out."""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from services.matching.handlers import acknowledge_referral
from shared import topics
from shared.events import ReferralSubmitted
from shared.records import RecordCodec
from shared.settings import KafkaSettings, RuntimeSettings, WorkerSettings
from shared.streams import create_faust_app, faust_topic, publish, verified

SERVICE = "matching"


def create_app(
    *, kafka: KafkaSettings, runtime: RuntimeSettings, worker: WorkerSettings
) -> faust.App:
    """Build the app; nothing connects until the worker starts."""
    app = create_faust_app(SERVICE, kafka=kafka, runtime=runtime,
                           web_port=worker.web_port)
    codec = RecordCodec(source=f"/haven/{SERVICE}")
    submitted = faust_topic(app, topics.REFERRAL_SUBMITTED)

    @app.agent(submitted, name="on_referral_submitted")
    async def on_referral_submitted(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE):
            if isinstance(envelope.event, ReferralSubmitted):
                status = acknowledge_referral(envelope.event, now=datetime.now(UTC))
                await publish(app, codec.encode(status, cause=envelope.attributes))

    return app
