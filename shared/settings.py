"""Settings read from the environment, one class per concern.

Every process builds these at start-up and passes them down; nothing reads
`os.environ` elsewhere, so a test or a deployment sees all knobs in one file.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    IPvAnyAddress,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import topics

REPO_ROOT = Path(__file__).resolve().parents[1]

Environment = Literal["development", "test", "production"]


class SettingsError(ValueError):
    """Settings refused at start-up, said without the values: a refused value may be a
    secret (a token secret one character too short is still most of the secret)."""


class SafeSettings(BaseSettings):
    """BaseSettings whose refusal names the setting and the rule, never the value given."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: "
                f"{item['msg'].removeprefix('Value error, ')}" for item in error.errors())
            # `from None`: the ValidationError (which quotes the input) is not chained.
            raise SettingsError(f"{type(self).__name__} refused: {problems}") from None


class RuntimeSettings(SafeSettings):
    """Where a process keeps its files and how loudly it logs."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore")

    environment: Environment = "development"
    var_dir: Path = REPO_ROOT / "var"
    log_level: str = "INFO"


class KafkaSettings(SafeSettings):
    """How every service reaches the broker; defaults match deploy/local/broker.py."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_KAFKA_", extra="ignore")

    # The local broker's address (deploy/local/broker.py reads the same two variables).
    # Unset, the bootstrap servers follow them, so HAVEN_KAFKA_PORT alone moves every service.
    host: str = "127.0.0.1"
    port: int = Field(default=9092, ge=1, le=65535)
    bootstrap_servers: str = ""
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    linger_ms: int = Field(default=5, ge=0)
    # kafka-python is pure Python; bigger batches cut its per-record cost (bench/producer.py).
    batch_size: int = Field(default=256 * 1024, ge=16 * 1024)

    @model_validator(mode="after")
    def _bootstrap_from_host_and_port(self) -> KafkaSettings:
        if not self.bootstrap_servers:
            self.bootstrap_servers = f"{self.host}:{self.port}"
        return self


class IntakeAddress(SafeSettings):
    """Where intake listens (HAVEN_INTAKE_HOST/PORT), for everything that links to it: the
    notifier's links in e-mails follow it unless a public URL is set."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_INTAKE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def url(self) -> str:
        """The base URL a browser on this machine reaches intake at."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"


class IntakeSettings(IntakeAddress):
    """The HTTP edge: where it listens (host, port: IntakeAddress) and what it stores."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_INTAKE_", extra="ignore",
                                      populate_by_name=True)

    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    # Empty outside production: a random secret is made once under var/keys/ (0600).
    token_secret: SecretStr | None = Field(default=None, min_length=32)
    # Empty outside production: a random key-encryption key is made under var/keys/.
    data_key_file: Path | None = None
    # Capacity not confirmed for this long is shown as stale and staff get a reminder.
    capacity_stale_after_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    # The API schema at /openapi.json (and, outside production, the /docs and /redoc pages
    # that load their scripts from a CDN). Unset: on in development, off in production.
    api_docs: bool | None = None
    # Nothing stuck silently (services/intake/watch): a referral with no status from
    # matching this long is sent again (same event id); still silent `watch_alert_after_s`
    # later, admins are alerted and the outreach worker's page shows it. A placement
    # whose survivor message went unreported for both together is alerted too.
    watch_silent_after_s: float = Field(default=60.0, gt=0, le=7 * 24 * 3600)
    watch_alert_after_s: float = Field(default=120.0, gt=0, le=7 * 24 * 3600)
    watch_interval_s: float = Field(default=5.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _refuse_generated_secrets_in_production(self) -> IntakeSettings:
        if RuntimeSettings().environment == "production" and (
            self.token_secret is None or self.data_key_file is None
        ):
            raise ValueError("set HAVEN_INTAKE_TOKEN_SECRET and HAVEN_INTAKE_DATA_KEY_FILE "
                             "in production; generated development secrets are refused")
        return self

    def effective_database_url(self, runtime: RuntimeSettings) -> str:
        """SQLite under var/ unless DATABASE_URL points at PostgreSQL."""
        return self.database_url or f"sqlite:///{runtime.var_dir / 'intake.sqlite3'}"

    def effective_data_key_file(self, runtime: RuntimeSettings) -> Path:
        """The key-encryption key of intake's vault (made by `haven keys init`)."""
        return self.data_key_file or runtime.var_dir / "keys" / "intake-data.key"


class MatchingSettings(SafeSettings):
    """How long offers stay open and how wide a waiting list reaches (HAVEN_MATCHING_*)."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_MATCHING_", extra="ignore")

    offer_hours_tonight: float = Field(default=2.0, gt=0, le=24 * 14)
    offer_hours_within_days: float = Field(default=24.0, gt=0, le=24 * 14)
    offer_hours_planned: float = Field(default=72.0, gt=0, le=24 * 14)
    waitlist_breadth: int = Field(default=3, ge=1, le=20)
    capacity_stale_after_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    # sequential: one provider at a time; parallel: the best K at once, the person chooses.
    offer_mode: Literal["sequential", "parallel"] = "sequential"
    parallel_offers: int = Field(default=3, ge=1, le=10)
    choice_hours: float = Field(default=4.0, gt=0, le=24 * 7)
    max_open_offers_per_referral: int = Field(default=6, ge=1, le=50)
    max_open_offers_per_service: int = Field(default=0, ge=0, le=1000)  # 0: no limit
    stall_minutes_matching: float = Field(default=15.0, gt=0)
    stall_hours_offered: float = Field(default=24.0, gt=0)
    stall_hours_waitlisted: float = Field(default=24.0 * 7, gt=0)
    # How long a settled case stays in the table (late answers, a declined placement).
    keep_settled_hours: float = Field(default=24.0 * 30, gt=0)
    # The consumer group, and the prefix of the table changelogs (topics.state_topics).
    app_id: str = Field(default="haven-matching", pattern=r"^[a-z0-9][a-z0-9.-]{2,60}$")


class WorkerSettings(SafeSettings):
    """A Faust worker's local port for its web view; each service sets its own default.

    The view (Faust's tables and stats) has no sign-in, so it listens on loopback only
    unless `HAVEN_WORKER_WEB_BIND` names another interface (Faust's own default binds
    every interface)."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_WORKER_", extra="ignore")

    web_port: int | None = Field(default=None, ge=1, le=65535)
    web_bind: IPvAnyAddress = Field(default=IPv4Address("127.0.0.1"))


# The longest backoff; the retry agent never sleeps longer, whatever a record's due time says.
MAX_RETRY_DELAY_S = 300.0


class NotifierSettings(SafeSettings):
    """Where the notifier sends (SMTP, SMS gateway), how it retries, what it keeps.

    Credentials are `SecretStr` so they never print; organizations' webhook URLs,
    secrets and e-mail addresses live in the subscriptions file (0600), not here.
    """

    model_config = SettingsConfigDict(env_prefix="HAVEN_NOTIFIER_", extra="ignore")

    app_id: str = Field(default="haven-notifier", pattern=r"^[a-z0-9][a-z0-9.-]{2,60}$")
    # The delivery log; SQLite under var/notifier/ unless a PostgreSQL URL is given.
    database_url: str = ""
    subscriptions_file: Path | None = None
    # The address in links to intake's pages; unset, intake's own host and port.
    public_base_url: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "notifications@haven.invalid"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # GET {lookup}/{notification id}: 200 the mail provider has that Message-ID, 404 it
    # never got it. SMTP itself cannot tell after a crash; this settles such a message.
    email_lookup_url: str = ""
    email_lookup_token: SecretStr | None = None
    sms_gateway_url: str = ""
    # GET {lookup}/{reference}: 200 the gateway has the message, 404 it never got it. Lets
    # a survivor SMS whose outcome a crash hid be settled instead of left in doubt.
    sms_gateway_lookup_url: str = ""
    sms_gateway_username: str | None = None
    sms_gateway_token: SecretStr | None = None
    send_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Backoff between attempts; after the last one a failure is permanent.
    retry_delays_s: list[float] = Field(default=[2.0, 10.0, 60.0])

    @field_validator("retry_delays_s")
    @classmethod
    def _one_delay_per_retry_topic(cls, delays: list[float]) -> list[float]:
        tiers = len(topics.NOTIFICATION_RETRY_TIERS)
        if len(delays) > tiers:
            raise ValueError(f"at most {tiers} retry delays: each retry has its own topic "
                             "(shared/topics.py), and every record on one waits the same time")
        if any(not 0 <= delay <= MAX_RETRY_DELAY_S for delay in delays):
            raise ValueError(f"each retry delay must be 0 to {MAX_RETRY_DELAY_S:.0f} seconds")
        return delays

    @model_validator(mode="after")
    def _links_follow_intake(self) -> NotifierSettings:
        if not self.public_base_url:
            self.public_base_url = IntakeAddress().url
        self.public_base_url = self.public_base_url.rstrip("/")
        return self

    def effective_database_url(self, runtime: RuntimeSettings) -> str:
        return self.database_url or f"sqlite:///{runtime.var_dir / 'notifier' / 'log.sqlite3'}"

    def effective_subscriptions_file(self, runtime: RuntimeSettings) -> Path:
        return self.subscriptions_file or runtime.var_dir / "notifier" / "subscriptions.json"
