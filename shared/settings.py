"""Settings read from the environment, one class per concern.

Every process builds these at start-up and passes them down; nothing reads
`os.environ` elsewhere, so a test or a deployment sees all knobs in one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

Environment = Literal["development", "test", "production"]


class RuntimeSettings(BaseSettings):
    """Where a process keeps its files and how loudly it logs."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore")

    environment: Environment = "development"
    var_dir: Path = REPO_ROOT / "var"
    log_level: str = "INFO"


class KafkaSettings(BaseSettings):
    """How every service reaches the broker; defaults match deploy/local/broker.py."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    linger_ms: int = Field(default=5, ge=0)
    # kafka-python is pure Python; bigger batches cut its per-record cost (bench/producer.py).
    batch_size: int = Field(default=256 * 1024, ge=16 * 1024)


class IntakeSettings(BaseSettings):
    """The HTTP edge: where it listens and what it stores."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_INTAKE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = ""
    token_secret: SecretStr = SecretStr("development-only-not-a-secret")

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> IntakeSettings:
        runtime = RuntimeSettings()
        if runtime.environment == "production" and self.token_secret.get_secret_value() == (
            "development-only-not-a-secret"
        ):
            raise ValueError("HAVEN_INTAKE_TOKEN_SECRET must be set in production")
        return self

    def effective_database_url(self, runtime: RuntimeSettings) -> str:
        """SQLite under var/ unless DATABASE_URL points at PostgreSQL."""
        return self.database_url or f"sqlite:///{runtime.var_dir / 'intake.sqlite3'}"


class WorkerSettings(BaseSettings):
    """A Faust worker's local port for its web view; each service sets its own default."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_WORKER_", extra="ignore")

    web_port: int | None = Field(default=None, ge=1, le=65535)
