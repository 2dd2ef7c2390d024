"""The parameters and results of PostgreSQL's fenced lifecycle statements (ack, fail,
heartbeat, release): a batch's ids and lease tokens in, the ids still held out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor.errors import StoreError
from conveyor.job import Lease
from conveyor.store.base import Ack, Completion


def fenced(items: Sequence[Lease] | Sequence[Ack]) -> dict[str, Any]:
    """The ids and lease tokens of a batch of fenced writes, each as one comma-separated
    text that the lifecycle statements split with ``string_to_array``: one C-level join
    here, where psycopg would dump a list element by element in Python."""
    tokens = ",".join([item.token for item in items])
    if items and tokens.count(",") != len(items) - 1:
        # The store makes every token (a UUID); one with a comma would shift the pairs.
        raise StoreError("a lease token must not contain a comma")
    return {"ids": ",".join([str(item.job_id) for item in items]), "tokens": tokens}


def results_json(completions: Sequence[Completion]) -> list[str | None]:
    """Each completion's result as JSON text, ``None`` (no result) as SQL NULL; an empty
    list when no job returned anything (the statement's unnest pads it with NULLs)."""
    results = [None if c.result is None else json.dumps(c.result) for c in completions]
    return results if results.count(None) != len(results) else []


def returned_ids(rows: Sequence[dict[str, Any]]) -> list[int]:
    """The ids a lifecycle statement returned as one array in one row."""
    return list(rows[0]["ids"] or ()) if rows else []
