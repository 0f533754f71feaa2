"""Matching worker processes on the real broker, in a consumer group of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import KafkaSettings
from tests.support.matching_run import MatchingRun


@pytest.fixture
def run(kafka_broker: KafkaSettings, tmp_path: Path) -> Iterator[MatchingRun]:
    running = MatchingRun(tmp_path, kafka_broker)
    try:
        yield running
    finally:
        running.stop()
