"""Bounds on a campaign template's work: loop steps, string repetition and output size."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

# Steps left to the rendering under way; a fresh budget per rendering (see render_within).
_steps_left: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_steps")


def _refuse(reason: str) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(reason)


def bounded_environment(
    sandbox: type[SandboxedEnvironment], undefined: type[Any], *, max_steps: int, max_output: int
) -> SandboxedEnvironment:
    """A sandbox whose ``range`` draws on a per-rendering step budget of ``max_steps`` and
    whose ``*`` and ``**`` refuse results beyond ``max_output`` characters or digits."""

    class Bounded(sandbox):  # type: ignore[misc, valid-type]
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                if isinstance(left, int) and isinstance(right, int) and abs(right) > 64:
                    raise _refuse(f"exponent {right} is beyond the template's limit of 64")
                return left**right
            for text, times in ((left, right), (right, left)):
                sized = isinstance(text, str | list | tuple) and isinstance(times, int)
                if sized and len(text) * times > max_output:
                    raise _refuse(f"repetition beyond the template's {max_output} characters")
            return left * right

    def bounded_range(*args: int) -> Iterator[int]:
        steps = range(*args)
        if len(steps) > max_steps:
            raise _refuse(f"range of {len(steps)} steps; a template may loop {max_steps} times")
        budget = _steps_left.get(None)
        for step in steps:
            if budget is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    raise _refuse(f"a template may loop {max_steps} times in all")
            yield step

    environment: SandboxedEnvironment = Bounded(undefined=undefined, autoescape=False)
    environment.globals["range"] = bounded_range
    environment.globals["_max_steps"] = max_steps
    return environment


def render_within(template: Template, context: dict[str, Any], *, max_output: int) -> str:
    """Render ``template`` chunk by chunk, refusing once the output passes ``max_output``."""
    max_steps = template.environment.globals["_max_steps"]
    assert isinstance(max_steps, int)
    token = _steps_left.set([max_steps])
    try:
        parts: list[str] = []
        size = 0
        for part in template.generate(context):
            size += len(part)
            if size > max_output:
                raise _refuse(f"output beyond the template's {max_output} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        _steps_left.reset(token)
