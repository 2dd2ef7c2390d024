"""Who is looking at the dashboard: a signed session cookie or a bearer token, its role,
and the CSRF token every form of that session carries.

With no ``CONVEYOR_API_TOKEN`` (the server listens on loopback only) everybody is an
anonymous admin, but forms still carry a CSRF token: a page on another site could
otherwise post to ``127.0.0.1``. With tokens, a browser signs in at ``/login`` with one
of them and gets a session cookie (HttpOnly, SameSite=Strict, signed with a key derived
from the configured tokens, so every API process of a deployment accepts it and removing
a token ends its sessions). The ``Authorization: Bearer`` header works on every page too;
a request carrying it needs no CSRF token, since another site cannot make a browser send
that header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from conveyor.api.auth import Authenticator, Principal

SESSION_COOKIE = "conveyor_session"
LOGIN_COOKIE = "conveyor_login"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
ANONYMOUS = Principal("anonymous", "admin")


class LoginRequired(Exception):
    """No valid credentials: a page answers with a redirect to ``/login``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Denied(Exception):
    """A valid viewer asked for something it may not do (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a request. ``csrf`` is the token this viewer's forms carry;
    ``new_cookie`` is a session cookie the response must set (first visit, no tokens)."""

    principal: Principal
    csrf: str
    via: str  # "session", "bearer" or "open" (no tokens configured)
    new_cookie: str | None = None

    @property
    def can_act(self) -> bool:
        """Whether this viewer may press buttons: only an admin token may."""
        return self.principal.role == "admin"


class DashboardAuth:
    """Signs and checks session cookies and CSRF tokens over the API's tokens."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        if authenticator.enabled:
            material = b"\0".join(sorted(t.encode() for _, t in authenticator.tokens))
            self._key = hashlib.sha256(b"conveyor.dashboard.session\0" + material).digest()
        else:
            # Nothing to sign in with, so nothing to share between processes: the key only
            # has to outlive one process's anonymous sessions.
            self._key = secrets.token_bytes(32)

    @property
    def enabled(self) -> bool:
        return self.authenticator.enabled

    # -- who is asking ------------------------------------------------------------------

    def viewer(self, request: Request) -> Viewer:
        """The viewer of ``request``; raises ``LoginRequired`` without valid credentials."""
        if self.enabled and request.headers.get("authorization"):
            principal = self.authenticator.principal(request)  # 401 for a wrong token
            return Viewer(principal, csrf="", via="bearer")
        session = self._read(request.cookies.get(SESSION_COOKIE, ""))
        signed_in = None if session is None else self._principal_of(session)
        if session is not None and signed_in is not None:
            return Viewer(signed_in, csrf=str(session["c"]), via="session")
        if not self.enabled:
            csrf = secrets.token_urlsafe(24)
            cookie = self._sign({"n": ANONYMOUS.name, "f": "", "c": csrf})
            return Viewer(ANONYMOUS, csrf=csrf, via="open", new_cookie=cookie)
        raise LoginRequired(_next_path(request))

    async def actor(self, request: Request) -> Viewer:
        """The viewer of a POST that changes jobs, queues or schedules: it must be allowed
        to act and pass ``poster``'s CSRF check. Raises ``Denied`` otherwise."""
        viewer = self.viewer(request)
        if not viewer.can_act:
            raise Denied(f"token {viewer.principal.name!r} is read-only")
        return await self.poster(request, viewer)

    async def poster(self, request: Request, viewer: Viewer | None = None) -> Viewer:
        """The viewer of a POST, which (unless it came with a bearer header) must carry
        this session's CSRF token. Raises ``Denied`` otherwise."""
        viewer = viewer or self.viewer(request)
        if viewer.via == "bearer":
            return viewer
        presented = request.headers.get(CSRF_HEADER, "")
        if not presented:
            form = await request.form()
            value = form.get(CSRF_FIELD, "")
            presented = value if isinstance(value, str) else ""
        if not viewer.csrf or not hmac.compare_digest(presented.encode(), viewer.csrf.encode()):
            raise Denied("the form's CSRF token is missing or stale: reload the page")
        return viewer

    # -- signing in and out -------------------------------------------------------------

    def sign_in(self, presented: str) -> str | None:
        """A session cookie for ``presented`` when it is a configured token."""
        match = None
        for principal, token in self.authenticator.tokens:
            # compare with every token, so the time taken does not tell which one came close
            if hmac.compare_digest(presented.encode(), token.encode()):
                match = (principal, token)
        if match is None:
            return None
        principal, token = match
        payload = {"n": principal.name, "f": self._fingerprint(token)}
        return self._sign({**payload, "c": secrets.token_urlsafe(24)})

    def login_nonce(self, request: Request) -> tuple[str, str | None]:
        """The CSRF token of the login form, and a cookie to set when there was none: a
        login posted from another site carries no SameSite=Strict cookie and is refused."""
        current = self._read(request.cookies.get(LOGIN_COOKIE, ""))
        if current is not None:
            return str(current["c"]), None
        nonce = secrets.token_urlsafe(24)
        return nonce, self._sign({"c": nonce})

    def login_nonce_matches(self, request: Request, presented: str) -> bool:
        current = self._read(request.cookies.get(LOGIN_COOKIE, ""))
        expected = "" if current is None else str(current["c"])
        return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())

    # -- cookies ------------------------------------------------------------------------

    def _sign(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps({**payload, "e": int(time.time()) + SESSION_SECONDS}).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def _read(self, cookie: str) -> dict[str, Any] | None:
        body, _, signature = cookie.partition(".")
        if not body or not signature:
            return None
        if not hmac.compare_digest(_b64(self._mac(body)), signature):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(payload, dict) or int(payload.get("e", 0)) < time.time():
            return None
        return payload

    def _principal_of(self, session: dict[str, Any]) -> Principal | None:
        if not self.enabled:
            return ANONYMOUS if session.get("n") == ANONYMOUS.name else None
        for principal, token in self.authenticator.tokens:
            if principal.name == session.get("n") and hmac.compare_digest(
                self._fingerprint(token), str(session.get("f", ""))
            ):
                return principal
        return None

    def _fingerprint(self, token: str) -> str:
        return self._mac("token:" + token).hex()[:32]

    def _mac(self, text: str) -> bytes:
        return hmac.new(self._key, text.encode(), hashlib.sha256).digest()


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _next_path(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path
