"""The ```python blocks of the README and the docs pages, with their opt-out markers.

A page's blocks run in order in one namespace (a later block may use what an earlier one
defined), top-level ``await`` allowed. A block that cannot run on its own is preceded, on
the line right before its fence, by ``<!-- not-run: the reason -->``; the reason is
required. ``--8<-- "file.py"`` lines are expanded from ``docs/examples/`` as the docs
build does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run(?::\s*(?P<reason>.*?))?\s*-->\s*$")
_SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<file>[^"]+)"\s*$')


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    source: str
    not_run: str | None  # the reason given, "" for a marker without one, None to run


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    """Every ```python block of ``path`` in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(ROOT))
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or not opening.group("lang"):
            i += 1
            continue
        indent, start = opening.group("indent"), i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # past the closing fence
        if opening.group("lang") != "python":
            continue
        marker = _marker_before(lines, start)
        found.append(Block(page, start + 1, _expand("\n".join(body) + "\n"), marker))
    return found


def _marker_before(lines: list[str], fence: int) -> str | None:
    """The not-run reason on the last non-blank line before the fence, if it is a marker."""
    j = fence - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    matched = _NOT_RUN.match(lines[j])
    if matched is None:
        return None
    return matched.group("reason") or ""


def _expand(source: str) -> str:
    out = []
    for line in source.splitlines():
        snippet = _SNIPPET.match(line)
        out.append((EXAMPLES / snippet.group("file")).read_text() if snippet else line + "\n")
    return "".join(out)
