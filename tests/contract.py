"""Contracts from DESIGN.md that several test folders check against."""

from __future__ import annotations

DESIGN_JOB_JSON_KEYS: tuple[str, ...] = (
    "id", "task", "queue", "state", "payload", "priority", "attempt", "max_attempts",
    "run_at", "created_at", "started_at", "finished_at", "progress", "result", "errors",
    "checkpoint", "idempotency_key", "rerun_of",
)  # fmt: skip
"""The job JSON keys of DESIGN.md §5, in order."""

JOB_JSON_KEYS: tuple[str, ...] = (*DESIGN_JOB_JSON_KEYS, "schedule")
"""Every job JSON key: DESIGN.md §5's, in order and unchanged, then the additions
(``schedule``: the fire a job came from, issue 5)."""
