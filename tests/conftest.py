"""Fixtures for tests that need the real broker: started here if nothing runs, stopped after."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

# Before any test imports intake: argon2's cheapest parameters (services/intake/auth.py);
# the processes tests start inherit it. tests/security/test_password_hashing.py checks
# the real parameters and that production refuses this.
os.environ.setdefault("HAVEN_TEST_CHEAP_PASSWORD_HASHING", "1")

import pytest

from deploy.local import postgres
from deploy.local.broker import BrokerConfig, answers_metadata, start, stop
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from tests.support.scratch import postgres_scratch_base


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaSettings]:
    """The session's broker: reuse a running one (make up), else start ours and stop it after."""
    config = BrokerConfig.from_env()
    already_running = answers_metadata(config, timeout_s=5)
    if not already_running:
        start(config)
    settings = KafkaSettings(bootstrap_servers=config.bootstrap)
    ensure_topics(settings)
    # Service processes the tests start inherit this, so HAVEN_KAFKA_PORT reaches them too.
    os.environ["HAVEN_KAFKA_BOOTSTRAP_SERVERS"] = config.bootstrap
    yield settings
    if not already_running:
        stop(config)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresConfig]:
    """A real PostgreSQL (Debian's package, our own cluster): reused if running, else ours."""
    config = dataclasses.replace(postgres.PostgresConfig.from_env(), fast=True,
                                 var_dir=postgres_scratch_base())
    already_running = postgres.accepts_connections(config)
    if not already_running:
        postgres.start(config)
    yield config
    if not already_running:
        postgres.stop(config)
