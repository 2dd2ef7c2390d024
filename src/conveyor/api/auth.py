"""Bearer-token auth with two roles, from ``CONVEYOR_API_TOKEN``.

The variable holds comma-separated entries ``name:role:token`` (role ``read`` or
``admin``); a bare ``token`` is an admin token named ``default``. A read token may call
every GET; mutations need an admin token. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request

from conveyor.errors import ConfigurationError

ROLES = ("read", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: str


def parse_tokens(spec: str | None) -> list[tuple[Principal, str]]:
    """The configured tokens; an empty list means auth is off (loopback only)."""
    if not spec or not spec.strip():
        return []
    tokens: list[tuple[Principal, str]] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) == 1:
            name, role, token = "default", "admin", parts[0]
        elif len(parts) == 3:
            name, role, token = parts
        else:
            raise ConfigurationError(
                "CONVEYOR_API_TOKEN entries must be 'name:role:token' or a bare token"
            )
        if role not in ROLES:
            raise ConfigurationError(f"token {name!r}: role must be one of {', '.join(ROLES)}")
        if len(token) < 16:
            raise ConfigurationError(f"token {name!r} is too short: use at least 16 characters")
        tokens.append((Principal(name, role), token))
    return tokens


class Authenticator:
    """Finds the principal behind a request's ``Authorization: Bearer`` header."""

    def __init__(self, tokens: list[tuple[Principal, str]]) -> None:
        self.tokens = tokens

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def principal(self, request: Request) -> Principal:
        if not self.enabled:
            return Principal("anonymous", "admin")
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise HTTPException(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        match = None
        for principal, token in self.tokens:
            # compare every token, so the time taken does not tell which one came close
            if hmac.compare_digest(presented.encode(), token.encode()):
                match = principal
        if match is None:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
        return match

    def reader(self, request: Request) -> Principal:
        return self.principal(request)

    def admin(self, request: Request) -> Principal:
        principal = self.principal(request)
        if principal.role != "admin":
            raise HTTPException(403, f"token {principal.name!r} is read-only")
        return principal


def require_reader(request: Request) -> Principal:
    """FastAPI dependency for an application's own routes: any valid token (a GET)."""
    authenticator: Authenticator = request.app.state.auth
    return authenticator.reader(request)


def require_admin(request: Request) -> Principal:
    """FastAPI dependency for an application's own routes: an admin token (a mutation)."""
    authenticator: Authenticator = request.app.state.auth
    return authenticator.admin(request)
