"""A Faust worker used only by the envelope round-trip test: re-publishes what it reads.

It goes through the same app factory, codec and dead-letter loop as the services,
so the test proves the path every service uses.
"""

from __future__ import annotations

import os
from dataclasses import replace

import faust

from shared.records import RecordCodec
from shared.settings import KafkaSettings, RuntimeSettings
from shared.streams import create_faust_app, publish, verified
from shared.topics import TopicSpec
from shared.worker import run_worker

RELAY_IN = TopicSpec("test.relay.in", "referral id", "round-trip test input", partitions=2)
RELAY_OUT = TopicSpec("test.relay.out", "referral id", "round-trip test output", partitions=2)


def create_app() -> faust.App:
    app = create_faust_app("relay-test", kafka=KafkaSettings(), runtime=RuntimeSettings(),
                           web_port=None)
    codec = RecordCodec(source="/haven/tests/relay")
    source = app.topic(RELAY_IN.name, key_type=bytes, value_type=bytes)

    @app.agent(source, name="relay")
    async def relay(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer="relay-test"):
            record = codec.encode_with(envelope.event, envelope.attributes)
            await publish(app, replace(record, topic=RELAY_OUT.name))

    return app


if __name__ == "__main__":
    run_worker(create_app(), service="relay-test", log_level=os.environ.get("HAVEN_LOG_LEVEL",
                                                                          "INFO"))
