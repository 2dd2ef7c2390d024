"""CarwashConfig: the car-wash app's own knobs, each with its default and unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from conveyor import RetryPolicy


@dataclass(frozen=True, slots=True)
class CarwashConfig:
    """Options of the car-wash workloads (``build_app(config=...)``).

    Attributes:
        smtp_url: where mail goes; default ``CONVEYOR_SMTP_URL``, else the demo's local
            sink at ``smtp://127.0.0.1:8025``.
        campaign_chunk_size: most recipients per ``email.send_chunk`` job (default 100).
        email_chunks_per_tenant: most chunk jobs of one tenant sending at once across the
            cluster (default 2); each paces at this share of the tenant's rate.
        email_max_attempts: attempts of a chunk before its unsent recipients count as
            failed (default 8).
        email_retry: backoff between chunk attempts (default 5 s doubling to 10 min).
        sync_chunk_size: transactions per financial-sync chunk, each its own commit
            (default 2,000).
        import_batch_size: employee rows upserted per transaction (default 100).
        upload_max_bytes: largest employee file accepted (default 512 KiB).
        upload_retention: how long uploaded files are kept (default 7 days).
        run_mail_sink: start the local SMTP sink with ``conveyor serve`` (default: when
            no ``CONVEYOR_SMTP_URL`` is set, i.e. the demo).
    """

    smtp_url: str | None = None
    campaign_chunk_size: int = 100
    email_chunks_per_tenant: int = 2
    email_max_attempts: int = 8
    email_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            base_delay=timedelta(seconds=5), max_delay=timedelta(minutes=10)
        )
    )
    sync_chunk_size: int = 2_000
    import_batch_size: int = 100
    upload_max_bytes: int = 512 * 1024
    upload_retention: timedelta = timedelta(days=7)
    run_mail_sink: bool | None = None
