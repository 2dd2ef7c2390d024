"""Log output for the CLI: human-readable lines or one JSON object per line, with job fields."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

JOB_FIELDS = ("job_id", "task", "attempt", "queue", "worker_id")
_job_fields: ContextVar[dict[str, Any] | None] = ContextVar("conveyor_job_fields", default=None)

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class bound_job:
    """Every record logged inside this block (in this task) carries the job's fields.

    A plain class rather than ``contextlib.contextmanager``: the worker enters it once per
    job, and the generator machinery cost more than the binding itself."""

    __slots__ = ("_fields", "_token")

    def __init__(self, *, job_id: int, task: str, attempt: int, queue: str, worker_id: str):
        self._fields: dict[str, Any] = {
            "job_id": job_id,
            "task": task,
            "attempt": attempt,
            "queue": queue,
            "worker_id": worker_id,
        }
        self._token: Token[dict[str, Any] | None] | None = None

    def __enter__(self) -> None:
        self._token = _job_fields.set(self._fields)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _job_fields.reset(self._token)


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
