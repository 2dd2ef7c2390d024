"""The one table from errors to HTTP answers: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor.errors import (
    BatchNotFound,
    ConfigurationError,
    ConveyorError,
    InvalidArgument,
    InvalidTransition,
    JobNotFound,
    MigrationRequired,
    PayloadInvalid,
    ScheduleDeclaredInCode,
    ScheduleExists,
    ScheduleInvalid,
    ScheduleNotFound,
    StoreUnavailable,
    TaskNotFound,
)

log = logging.getLogger("conveyor.api")
# A database URL (with any credentials and path) as a store's error text may quote it.
_CONNECTION_STRING = re.compile(
    r"\b(?:postgres(?:ql)?(?:\+\w+)?|sqlite(?:\+\w+)?):/*[^\s:]*(?::[^\s]*)?"
)


def scrub(message: str) -> str:
    """``message`` with every database URL replaced by ``<database>``."""
    return _CONNECTION_STRING.sub("<database>", message)


# Most specific first: the first class that matches decides.
ERROR_TABLE: list[tuple[type[ConveyorError], int, str]] = [
    (PayloadInvalid, 422, "payload_invalid"),
    (ScheduleInvalid, 422, "schedule_invalid"),
    (InvalidArgument, 422, "invalid_argument"),
    (ScheduleNotFound, 404, "schedule_not_found"),
    (ScheduleExists, 409, "schedule_exists"),
    (ScheduleDeclaredInCode, 409, "schedule_declared_in_code"),
    (TaskNotFound, 404, "task_not_found"),
    (JobNotFound, 404, "job_not_found"),
    (BatchNotFound, 404, "batch_not_found"),
    (InvalidTransition, 409, "invalid_transition"),
    (MigrationRequired, 503, "migration_required"),
    (StoreUnavailable, 503, "store_unavailable"),
    (ConfigurationError, 500, "configuration_error"),
    (ConveyorError, 500, "internal_error"),
]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _details(exc: ConveyorError) -> Any:
    if isinstance(exc, PayloadInvalid):
        return exc.errors
    if isinstance(exc, TaskNotFound):
        return {"task": exc.task, "known_tasks": exc.known}
    if isinstance(exc, JobNotFound):
        return {"job_id": exc.job_id}
    if isinstance(exc, BatchNotFound):
        return {"batch_id": exc.batch_id}
    if isinstance(exc, InvalidTransition):
        return {"job_id": exc.job_id, "state": exc.state, "action": exc.action}
    if isinstance(exc, InvalidArgument):
        return {"field": exc.field}
    if isinstance(exc, ScheduleNotFound | ScheduleExists | ScheduleDeclaredInCode):
        return {"schedule": exc.name}
    return None


def conveyor_error_response(exc: ConveyorError) -> JSONResponse:
    for kind, status, code in ERROR_TABLE:
        if isinstance(exc, kind):
            if status >= 500:
                log.error("%s: %s", code, exc)
            return error_response(status, code, scrub(str(exc)), _details(exc))
    raise AssertionError("ConveyorError is the last row")  # pragma: no cover


def install_error_handlers(api: FastAPI) -> None:
    async def on_conveyor_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConveyorError)
        return conveyor_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return error_response(422, "invalid_request", f"invalid request: {where}", details)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code,
            code,
            str(exc.detail),
            None,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; see the server log")

    api.add_exception_handler(ConveyorError, on_conveyor_error)
    api.add_exception_handler(RequestValidationError, on_validation_error)
    api.add_exception_handler(StarletteHTTPException, on_http_error)
    api.add_exception_handler(Exception, on_unexpected)
