"""Loading of named SQL blocks and numbered migrations shipped inside a store package."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import LiteralString

_NAME = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


def _trusted(text: str) -> LiteralString:
    """Mark SQL read from the package's own files as literal: it is never user input."""
    return text


def parse_queries(text: str) -> dict[str, LiteralString]:
    """Split ``text`` into blocks that each start with ``-- name: <name>``.

    The text before the first block is ignored (a file header). A name used twice is an
    error: it would silently shadow a query.
    """
    matches = list(_NAME.finditer(text))
    queries: dict[str, LiteralString] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group("name")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        body = "\n".join(
            line for line in text[match.end() : end].splitlines() if not line.startswith("--")
        ).strip()
        if not body:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = _trusted(body)
    return queries


@functools.cache
def load_queries(package: str) -> Mapping[str, LiteralString]:
    """Read ``queries.sql`` from ``package`` and return its named blocks; parsed once per
    package however many modules ask."""
    text = resources.files(package).joinpath("queries.sql").read_text(encoding="utf-8")
    return parse_queries(text)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change: ``migrations/0001_initial.sql`` is version 1."""

    version: int
    name: str
    sql: LiteralString


def load_migrations(package: str) -> list[Migration]:
    """The migrations shipped in ``package/migrations``, ordered by version, gap-free."""
    folder = resources.files(package).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match is None:
            continue
        sql = _trusted(entry.read_text(encoding="utf-8"))
        found.append(Migration(int(match.group("version")), match.group("name"), sql))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {expected:04d} is missing in {package}")
    return found
