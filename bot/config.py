"""One `Settings`, read from the environment (and a `.env` file). Nothing else reads the environment."""
from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "xoxb-your-token", "your-signing-secret", "placeholder", "todo"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./surge.db"
    port: int = 3978
    surge_roster: str | None = None
    surge_timezone: str = "UTC"
    surge_env: str = "development"

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "MultiTenant"
    # Where Microsoft's token signing keys are described (empty: the Bot Framework's public cloud document)
    microsoft_openid_metadata_url: str = ""

    @field_validator("surge_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"SURGE_TIMEZONE {v!r} is not a time zone name like America/New_York") from None
        return v

    @field_validator("surge_env")
    @classmethod
    def _env(cls, v: str) -> str:
        if v not in {"development", "production"}:
            raise ValueError("SURGE_ENV is development or production")
        return v

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.surge_env != "production":
            return self
        for name in ("slack_bot_token", "slack_signing_secret", "slack_app_token", "microsoft_app_password"):
            value = getattr(self, name)
            if value and value.strip().lower() in PLACEHOLDERS:
                raise ValueError(f"{name.upper()} is a placeholder; set the real secret in production")
        return self

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def teams_emulator(self) -> bool:
        return not self.microsoft_app_id

    @property
    def teams_refusal(self) -> str | None:
        """Why Teams must not be served with these settings, or None when it may."""
        app_type = self.microsoft_app_type.strip().lower()
        if not self.microsoft_app_id:
            if self.surge_env == "production":
                return ("Teams is off: SURGE_ENV=production needs MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD; "
                        "without them /api/messages would accept anyone's activities (emulator mode)")
            return None
        if app_type not in {"multitenant", "singletenant", "userassignedmsi"}:
            return (f"Teams is off: MICROSOFT_APP_TYPE {self.microsoft_app_type!r} is MultiTenant, SingleTenant "
                    "or UserAssignedMSI")
        if app_type != "userassignedmsi" and not self.microsoft_app_password:
            return "Teams is off: MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not"
        if app_type != "multitenant" and not self.microsoft_app_tenant_id:
            return f"Teams is off: MICROSOFT_APP_TYPE={self.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID"
        return None

    @property
    def teams_enabled(self) -> bool:
        return self.teams_refusal is None

    @cached_property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
