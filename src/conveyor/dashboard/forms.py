"""Reading the fields of a posted dashboard form."""

from __future__ import annotations

from fastapi import HTTPException, Request


async def form_field(request: Request, name: str, *, max_length: int) -> str:
    """The non-empty text field ``name`` of the posted form; 422 when missing or too long."""
    value = (await request.form()).get(name, "")
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise HTTPException(422, f"the form needs a {name} of 1 to {max_length} characters")
    return value
