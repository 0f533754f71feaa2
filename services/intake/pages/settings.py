"""Settings of the web pages, from HAVEN_PAGES_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import SafeSettings


class PagesSettings(SafeSettings):
    """Cookie and safety settings; the defaults suit development on 127.0.0.1."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_PAGES_", extra="ignore")

    secure_cookies: bool | None = Field(
        default=None, description="send cookies over HTTPS only; unset means on in "
                                  "production (where false is refused), off in development")
    quick_exit_url: str = Field(default="https://www.weather.com/", max_length=500,
                                description="the neutral site the quick-exit control opens")
    live_seconds: float = Field(default=300.0, gt=0, le=3600,
                                description="how long one live-status stream stays open; "
                                            "the browser reconnects after it")
