"""Run one page's sample blocks in one namespace, as a reader would paste them in order.

Usage: ``python run_samples.py blocks.json`` (a list of ``{"name", "source"}``). Top-level
``await`` is allowed (as in ``python -m asyncio``); every ``Conveyor`` left in the
namespace is closed at the end. Exits non-zero with the failing block's name and
traceback.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import linecache
import sys
import traceback
import types
from typing import Any


def run(blocks: list[dict[str, str]]) -> int:
    from conveyor import Conveyor

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    loop = asyncio.new_event_loop()
    try:
        for block in blocks:
            name, source = block["name"], block["source"]
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            try:
                code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                outcome = types.FunctionType(code, namespace)()
                if inspect.iscoroutine(outcome):
                    loop.run_until_complete(outcome)
            except BaseException:
                print(f"sample {name} failed:", file=sys.stderr)
                traceback.print_exc()
                return 1
        for value in list(namespace.values()):
            if isinstance(value, Conveyor):
                loop.run_until_complete(value.close())
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        sys.exit(run(json.load(file)))
