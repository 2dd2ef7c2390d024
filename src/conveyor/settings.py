"""Settings: Conveyor's configuration, read from ``CONVEYOR_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every option, its default and unit. Each reads ``CONVEYOR_<NAME>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://…; default: an SQLite file in data_dir.",
    )
    data_dir: Path = Field(default=Path(".conveyor"), description="Where local files live.")
    api_token: str | None = Field(default=None, description="API bearer tokens.")
    smtp_url: str | None = Field(default=None, description="smtp://host:port for mail.")
    app: str = Field(
        default="carwash.app:app", description="module:attribute of the Conveyor app for the CLI."
    )
    auto_migrate: bool = Field(
        default=True, description="Apply missing migrations when the app opens its store."
    )
    job_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Finished jobs older than this many days are pruned; 0 keeps them forever.",
    )
    lease_ttl_seconds: float = Field(
        default=30.0, gt=0, description="How long a claim holds a job without a heartbeat."
    )

    log_format: Literal["text", "json"] = Field(
        default="text",
        description="CLI log lines: 'text' (human-readable) or 'json' (one object per line).",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'conveyor.db'}"
