"""One ``POST /api/tasks/{name}`` per registered task, with the task's payload schema."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from conveyor.api.auth import Authenticator, Principal
from conveyor.api.inputs import Moment, Text, nul_locations
from conveyor.app import Conveyor
from conveyor.enqueue import MAX_DELAY, PRIORITY_RANGE
from conveyor.errors import TaskNotFound
from conveyor.strict_json import unstorable_reason
from conveyor.task import Task

JobJson = dict[str, Any]


def _endpoint(app: Conveyor, task: Task[Any], auth: Authenticator) -> Any:
    async def enqueue(request: Request, response: Response, **params: Any) -> JSONResponse:
        try:
            dumped = params["payload"].model_dump(mode="json")
            reason = unstorable_reason(dumped)
        except ValueError as exc:  # pydantic refuses to dump a value nested too deep
            dumped, reason = None, str(exc)
        if reason is not None:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": f"cannot be stored: {reason}", "type": "unstorable"}]
            )
        nul = nul_locations(dumped)
        if nul:
            message = "must not contain NUL (U+0000) characters"
            raise RequestValidationError(
                [{"loc": ("body", *loc), "msg": message, "type": "string_nul"} for loc in nul]
            )
        outcome = await app.enqueue_outcome(
            task,
            params["payload"],
            run_at=params["run_at"],
            delay=params["delay"],
            priority=params["priority"],
            queue=params["queue"],
            idempotency_key=params["idempotency_key"],
        )
        return JSONResponse(
            outcome.job.to_json(),
            status_code=202 if outcome.created else 200,
            headers={"Location": f"/api/jobs/{outcome.job.id}"},
        )

    # FastAPI reads the signature to build validation and OpenAPI: give it the task's
    # own payload model, so each endpoint documents and checks its own body.
    keyword = inspect.Parameter.KEYWORD_ONLY
    enqueue.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("response", keyword, annotation=Response),
            inspect.Parameter("payload", keyword, annotation=Annotated[task.payload_type, Body()]),
            inspect.Parameter(
                "run_at",
                keyword,
                annotation=Annotated[
                    Moment | None, Query(description="When to run (ISO 8601 with offset).")
                ],
                default=None,
            ),
            inspect.Parameter(
                "delay",
                keyword,
                annotation=Annotated[
                    float | None,
                    Query(ge=0, le=MAX_DELAY.total_seconds(), description="Seconds to wait."),
                ],
                default=None,
            ),
            inspect.Parameter(
                "priority",
                keyword,
                annotation=Annotated[
                    int | None,
                    Query(
                        ge=PRIORITY_RANGE.start,
                        le=PRIORITY_RANGE.stop - 1,
                        description="Lower runs first.",
                    ),
                ],
                default=None,
            ),
            inspect.Parameter(
                "queue",
                keyword,
                annotation=Annotated[Text | None, Query(min_length=1, max_length=200)],
                default=None,
            ),
            inspect.Parameter(
                "idempotency_key",
                keyword,
                annotation=Annotated[
                    Text | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
                ],
                default=None,
            ),
            inspect.Parameter(
                "principal", keyword, annotation=Annotated[Principal, Depends(auth.admin)]
            ),
        ]
    )
    return enqueue


def task_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    """The per-task endpoints, generated from the registry; then a catch-all that answers
    404 with the known task names for any other name."""
    router = APIRouter(prefix="/api/tasks", tags=["tasks"])
    for name, task in sorted(app.tasks.items()):
        doc = (task.fn.__doc__ or "").strip()
        router.add_api_route(
            f"/{name}",
            _endpoint(app, task, auth),
            methods=["POST"],
            status_code=202,
            name=f"enqueue {name}",
            summary=f"Enqueue {name}",
            description=(doc + "\n\n" if doc else "")
            + f"Queue `{task.options.queue}`, up to {task.options.max_attempts} attempts. "
            "Answers 202 with the job (200 when the Idempotency-Key already has a job).",
            responses={200: {"description": "The job that already held the key"}},
        )

    # Auth in the decorators: string annotations (PEP 563) cannot see the local ``auth``.
    @router.get("", summary="List the task types", dependencies=[Depends(auth.reader)])
    async def list_tasks() -> list[dict[str, Any]]:
        return [
            {
                "name": task.name,
                "queue": task.options.queue,
                "max_attempts": task.options.max_attempts,
                "timeout": task.options.timeout,
                "schema": task.payload_type.model_json_schema(),
            }
            for task in sorted(app.tasks.values(), key=lambda t: t.name)
        ]

    @router.post("/{task_name}", include_in_schema=False, dependencies=[Depends(auth.admin)])
    async def unknown_task(task_name: str) -> None:
        raise TaskNotFound(task_name, app.tasks)

    return router
