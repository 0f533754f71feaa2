"""One port setting moves everything that depends on it (issue 19, defect 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deploy.local.broker import BrokerConfig
from services.notifier.model import Endpoints
from services.notifier.policy import OfferFacts, plan_offer
from shared.settings import IntakeSettings, KafkaSettings, NotifierSettings

MOVED = ("HAVEN_KAFKA_BOOTSTRAP_SERVERS", "HAVEN_KAFKA_PORT", "HAVEN_KAFKA_HOST",
         "HAVEN_INTAKE_PORT", "HAVEN_INTAKE_HOST", "HAVEN_NOTIFIER_PUBLIC_BASE_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MOVED:
        monkeypatch.delenv(name, raising=False)


def test_the_kafka_port_alone_moves_the_broker_and_every_client(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert KafkaSettings().bootstrap_servers == "127.0.0.1:9092"
    monkeypatch.setenv("HAVEN_KAFKA_PORT", "19092")
    assert BrokerConfig.from_env().bootstrap == "127.0.0.1:19092"
    assert KafkaSettings().bootstrap_servers == BrokerConfig.from_env().bootstrap
    monkeypatch.setenv("HAVEN_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    assert KafkaSettings().bootstrap_servers == "kafka-1:9092,kafka-2:9092", "explicit wins"


def test_the_intake_port_alone_moves_the_links_in_messages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_INTAKE_PORT", "8123")
    monkeypatch.setenv("HAVEN_INTAKE_HOST", "0.0.0.0")  # listening everywhere
    settings = NotifierSettings()
    assert IntakeSettings().port == 8123
    assert settings.public_base_url == "http://127.0.0.1:8123"
    organization = "22222222-0000-0000-0000-000000000002"
    plans = plan_offer(
        cause_id="offer-event", offer=OfferFacts(
            "11111111-0000-0000-0000-000000000001", "33333333-0000-0000-0000-000000000003",
            organization, datetime.now(UTC) + timedelta(hours=2)), facts=None,
        directory={organization: Endpoints(organization, "Shelter", email="s@example.invalid",
                                           inbox=False)},
        link_base=settings.public_base_url, now=datetime.now(UTC))
    assert plans and all("http://127.0.0.1:8123/provider/offers" in plan.model_dump_json()
                         and ":8000" not in plan.model_dump_json() for plan in plans)
    monkeypatch.setenv("HAVEN_NOTIFIER_PUBLIC_BASE_URL", "https://haven.example.org/")
    assert NotifierSettings().public_base_url == "https://haven.example.org"
