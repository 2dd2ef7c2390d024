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
    pause_gc_during_enqueue: bool | None = Field(
        default=None,
        description=(
            "Hold Python's cyclic garbage collector off while Conveyor builds a batch of "
            "jobs (a bulk enqueue, a claimed batch). It is the whole process's collector, "
            "so unset it means on in Conveyor's own processes (the conveyor command: "
            "worker, serve, api) and off in an application that embeds Conveyor."
        ),
    )
    job_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Finished jobs older than this many days are pruned; 0 keeps them forever.",
    )
    lease_ttl_seconds: float = Field(
        default=30.0, gt=0, description="How long a claim holds a job without a heartbeat."
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the API/dashboard; alerts link to {public_url}/jobs/{id}.",
    )
    alert_email: str | None = Field(
        default=None,
        description="Comma-separated addresses that receive alerts (sent through smtp_url).",
    )
    alert_from: str = Field(default="conveyor@localhost", description="From address of alerts.")
    alert_webhook_url: str | None = Field(
        default=None, description="URL that receives alerts as a JSON POST with a 'text' field."
    )
    alert_lag_seconds: float = Field(
        default=300.0, gt=0, description="Alert when a queue's oldest runnable job is older (s)."
    )
    alert_failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Alert when a task's failed share exceeds this."
    )
    alert_failure_window_seconds: float = Field(
        default=300.0, gt=0, description="Window (s) over which a task's failure rate is taken."
    )
    alert_failure_min_runs: int = Field(
        default=10,
        ge=1,
        description="The failure-rate rule judges a task only after this many runs in its window.",
    )
    alert_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often each worker process checks the alert conditions (failure "
        "rate, lag, unserved queues) and sends due digests (s).",
    )
    alert_digest_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Later occurrences of an open incident within this many seconds are "
        "folded into one digest message.",
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
