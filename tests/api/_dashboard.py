"""Helpers for the dashboard page tests: tokens, signing in, and a page's CSRF token."""

from __future__ import annotations

import re

import httpx

ADMIN_TOKEN = "a" * 24
READER_TOKEN = "r" * 24
TOKENS = f"ops:admin:{ADMIN_TOKEN},viewer:read:{READER_TOKEN}"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READER = {"Authorization": f"Bearer {READER_TOKEN}"}
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the page's session (what its forms and htmx requests carry)."""
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    """Log in through the form, as a browser does: the client keeps the session cookie."""
    form = await client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce, "the login form carries no CSRF token"
    done = await client.post("/login", data={"token": token, "csrf": nonce.group(1)})
    assert done.status_code == 303, done.text


def assert_escaped(html: str) -> None:
    """The hostile markup appears only as text."""
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
