"""Log output for the CLI: human-readable lines or one JSON object per line, with job fields."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

JOB_FIELDS = ("job_id", "task", "attempt", "queue", "worker_id")
_job_fields: ContextVar[dict[str, Any] | None] = ContextVar("conveyor_job_fields", default=None)

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def bound_job(
    *, job_id: int, task: str, attempt: int, queue: str, worker_id: str
) -> Iterator[None]:
    """Every record logged inside this block (in this task) carries the job's fields."""
    token = _job_fields.set(
        {"job_id": job_id, "task": task, "attempt": attempt, "queue": queue, "worker_id": worker_id}
    )
    try:
        yield
    finally:
        _job_fields.reset(token)


def current_job_fields() -> dict[str, Any]:
    """The job fields bound in this context, empty outside a job."""
    return dict(_job_fields.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, message, logger, and the bound job fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        out.update(_job_fields.get() or {})
        for name in JOB_FIELDS:  # a job's LoggerAdapter passes them as record attributes
            if name not in out and hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Set up the root logger for a CLI process. Only the CLI entry points call this: a
    library leaves its host application's logging configuration alone."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
