"""Running a handler in a child process, for CPU-bound work that would block the loop.

Each attempt gets a fresh child from a ``forkserver`` (cheap to start, nothing inherited
from the worker's event loop or connections). The child imports the handler by module
and name, so process tasks must live in an importable module (not ``__main__``).
Cancellation and timeouts terminate the child: unlike a thread, it really stops.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.task import payload_type_of

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkServerContext


def _forkserver() -> ForkServerContext:
    # Imported on first use: most workers never run a process task, and multiprocessing
    # is a few milliseconds of every worker's start-up.
    import multiprocessing

    return multiprocessing.get_context("forkserver")


class ProcessTaskError(Exception):
    """A handler raised in its child process; carries the original type and traceback."""

    def __init__(self, type_name: str, message: str, child_traceback: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.child_traceback = child_traceback


@dataclass(frozen=True, slots=True)
class ProcessJob:
    """What a child needs to run one attempt: where the handler is and its input."""

    module: str
    qualname: str
    payload_json: str
    job_id: int
    attempt: int


@dataclass(frozen=True, slots=True)
class ProcessContext:
    """The part of ``JobContext`` that makes sense in another process."""

    job_id: int
    attempt: int
    cancelled: bool = False


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _child_main(job: ProcessJob, channel: Connection) -> None:
    try:
        target = _resolve(job.module, job.qualname)
        fn = getattr(target, "fn", target)  # a Task object wraps the function
        payload_type = getattr(target, "payload_type", None) or payload_type_of(fn, None)
        payload = payload_type.model_validate_json(job.payload_json)
        takes_context = len(inspect.signature(fn).parameters) >= 2
        args = (payload, ProcessContext(job.job_id, job.attempt)) if takes_context else (payload,)
        outcome = fn(*args)
        if inspect.iscoroutine(outcome):
            outcome = asyncio.run(outcome)
        channel.send(("ok", outcome))
    except BaseException as exc:  # everything must reach the parent
        channel.send(("error", (type(exc).__qualname__, str(exc), traceback.format_exc())))
    finally:
        channel.close()


async def run_in_process(job: ProcessJob) -> Any:
    """Run ``job`` in a fresh child; returns its result or raises ``ProcessTaskError``.

    Cancelling the awaiting task terminates the child.
    """
    context = _forkserver()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(job, sender), daemon=True)
    child.start()
    sender.close()
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(receiver.fileno(), on_readable)
    try:
        await ready
        try:
            status, value = receiver.recv()
        except EOFError:
            status, value = "error", ("ChildDied", f"exit code {child.exitcode}", "")
    except asyncio.CancelledError:
        child.terminate()
        raise
    finally:
        loop.remove_reader(receiver.fileno())
        receiver.close()
        await loop.run_in_executor(None, child.join, 5)
        if child.is_alive():
            child.kill()
    if status == "ok":
        return value
    type_name, message, child_traceback = value
    raise ProcessTaskError(type_name, message, child_traceback)
