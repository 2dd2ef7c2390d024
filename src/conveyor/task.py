"""Task: a registered handler with its payload model and options, and its typed enqueue."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pydantic

from conveyor.errors import ConfigurationError, PayloadInvalid
from conveyor.flow import FlowOptions
from conveyor.job import Job
from conveyor.retry import RetryPolicy

if TYPE_CHECKING:
    from conveyor.app import Conveyor

P = TypeVar("P", bound=pydantic.BaseModel)
Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Options set on ``@app.task``.

    Attributes:
        queue: the queue its jobs go to (default ``"default"``).
        priority: lower runs first (default 0).
        max_attempts: attempts before ``failed``, at least 1 (default 3).
        timeout: seconds an attempt may run, ``None`` for no limit (default).
        retry: the backoff between attempts (default ``RetryPolicy()``).
        executor: ``"async"``/``"thread"`` (chosen from the function), or ``"process"``.
        flow: rate, concurrency, fairness and uniqueness controls (``conveyor.flow``).
    """

    queue: str = "default"
    priority: int = 0
    max_attempts: int = 3
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    executor: str = "async"
    flow: FlowOptions = field(default_factory=FlowOptions)

    def __post_init__(self) -> None:
        if not self.queue:
            raise ConfigurationError("a task's queue must not be empty")
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        if self.executor not in {"async", "thread", "process"}:
            raise ConfigurationError(f"unknown executor {self.executor!r}")


class Task(Generic[P]):
    """A handler registered on a ``Conveyor`` app under ``name``.

    Calling the task object calls the handler directly (useful in tests); ``enqueue``
    puts a job on the queue instead.
    """

    def __init__(
        self,
        app: Conveyor,
        fn: Handler,
        *,
        name: str,
        payload_type: type[P],
        options: TaskOptions,
    ) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.payload_type = payload_type
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.takes_context = len(inspect.signature(fn).parameters) >= 2
        self._batch: pydantic.TypeAdapter[list[P]] | None = None
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)

    def __repr__(self) -> str:
        return f"Task({self.name!r}, queue={self.options.queue!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def validate(self, payload: P | Mapping[str, Any]) -> P:
        """The payload as the task's model; raises ``PayloadInvalid`` with field errors."""
        if isinstance(payload, self.payload_type):
            return payload
        try:
            if isinstance(payload, pydantic.BaseModel):
                payload = payload.model_dump()
            return self.payload_type.model_validate(payload)
        except pydantic.ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            raise PayloadInvalid(self.name, errors) from None

    def dump_many(
        self, payloads: Sequence[P | Mapping[str, Any]]
    ) -> tuple[list[P], list[dict[str, Any]]]:
        """Each payload as the task's model and its JSON-mode dump, in input order; raises
        ``PayloadInvalid`` for the first bad payload exactly as ``validate`` does.

        A whole list goes through pydantic-core in one call, which costs a fraction of
        a ``model_validate`` and a ``model_dump`` per payload; anything that list
        validation refuses (a bad payload, another model's instance) takes the
        one-by-one path, so the outcome and the errors are the same.
        """
        model = self.payload_type
        if self._batch is None:
            self._batch = pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]
        try:
            models = self._batch.validate_python(payloads)
        except pydantic.ValidationError:
            models = [self.validate(payload) for payload in payloads]
        # The list serialiser dumps a subclass's instance as the declared model, and an
        # overridden model_dump would be skipped: both keep the one-by-one dump.
        if model.model_dump is pydantic.BaseModel.model_dump and set(map(type, models)) == {model}:
            dumped = self._batch.dump_python(models, mode="json")
        else:
            dumped = [m.model_dump(mode="json") for m in models]
        return models, dumped

    async def enqueue(
        self,
        payload: P | Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
    ) -> Job:
        """Enqueue one job; with ``connection``, inside that open transaction."""
        return await self.app.enqueue(
            self,
            payload,
            run_at=run_at,
            delay=delay,
            priority=priority,
            queue=queue,
            idempotency_key=idempotency_key,
            connection=connection,
        )

    async def enqueue_many(
        self,
        payloads: Sequence[P | Mapping[str, Any]],
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_keys: Sequence[str | None] | None = None,
        connection: Any = None,
    ) -> list[Job]:
        """Enqueue many jobs in one transaction; one invalid payload enqueues nothing."""
        return await self.app.enqueue_many(
            self,
            payloads,
            run_at=run_at,
            delay=delay,
            priority=priority,
            queue=queue,
            idempotency_keys=idempotency_keys,
            connection=connection,
        )


def payload_type_of(fn: Handler, explicit: type[pydantic.BaseModel] | None) -> type[Any]:
    """The pydantic model a handler takes as its first parameter."""
    if explicit is not None:
        model: Any = explicit
    else:
        params = list(inspect.signature(fn).parameters.values())
        if not params:
            raise ConfigurationError(
                f"task {fn.__qualname__} must take its payload as first parameter"
            )
        try:
            hints = typing.get_type_hints(fn)
        except NameError as exc:
            raise ConfigurationError(
                f"cannot resolve the payload type of {fn.__qualname__} ({exc}); "
                "pass payload=Model to @app.task"
            ) from exc
        model = hints.get(params[0].name)
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise ConfigurationError(
            f"task {fn.__qualname__}: the first parameter must be annotated with a "
            f"pydantic model, got {model!r}"
        )
    return model
