"""The matching worker's wiring: settings in, a Faust app with its agents out."""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from services.matching.handlers import acknowledge_referral
from shared import topics
from shared.events import ReferralErased, ReferralSubmitted
from shared.identity import service_codec
from shared.recipients import MATCHING
from shared.settings import KafkaSettings, RuntimeSettings, WorkerSettings
from shared.streams import create_faust_app, faust_topic, publish, verified

SERVICE = "matching"


def create_app(
    *, kafka: KafkaSettings, runtime: RuntimeSettings, worker: WorkerSettings
) -> faust.App:
    """Build the app; nothing connects until the worker starts."""
    app = create_faust_app(SERVICE, kafka=kafka, runtime=runtime, web_port=worker.web_port)
    codec, sealed, grants = service_codec(MATCHING, source=f"/haven/{SERVICE}",
                                          runtime=runtime, kafka=kafka)

    @app.task  # type: ignore[untyped-decorator]  # faust ships this one untyped
    async def follow_grants() -> None:
        grants.start()

    @app.agent(faust_topic(app, topics.REFERRAL_SUBMITTED), name="on_referral_submitted")
    async def on_referral_submitted(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE,
                                       grants=grants):
            if isinstance(envelope.event, ReferralSubmitted):
                status = acknowledge_referral(envelope.event, now=datetime.now(UTC))
                await publish(app, *codec.encode_all(status, cause=envelope.attributes))

    @app.agent(faust_topic(app, topics.CONSENT_CHANGES), name="on_consent_changes")
    async def on_consent_changes(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE,
                                       grants=grants):
            if isinstance(envelope.event, ReferralErased):
                referral = str(envelope.event.referral_id)
                sealed.forget(referral)
                grants.ring.erase(referral)

    return app
