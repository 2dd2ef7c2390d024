"""The one strict check of a value against what both stores can hold as JSON."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 200
"""Deepest nesting of lists and objects a stored value may have."""


def unstorable_reason(value: Any) -> str | None:
    """Why ``value`` (already plain JSON types) cannot be stored, or None when it can:
    NaN or an infinity, a string or key with a lone surrogate, nesting beyond MAX_DEPTH."""
    if _depth_exceeds(value, MAX_DEPTH):
        return f"nested deeper than {MAX_DEPTH} levels"
    try:
        # ensure_ascii=False so that a lone surrogate reaches the UTF-8 encode and fails.
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return "a string or key holds a lone surrogate, which UTF-8 cannot encode"
    except ValueError as exc:
        return f"{exc} (NaN and infinities are not JSON)"
    return None


def _depth_exceeds(value: Any, limit: int) -> bool:
    if isinstance(value, dict):
        return limit <= 0 or any(_depth_exceeds(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return limit <= 0 or any(_depth_exceeds(v, limit - 1) for v in value)
    return False
