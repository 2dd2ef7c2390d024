"""Helpers for the dashboard page tests: tokens, headers and the CSRF token of a page."""

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
    """The CSRF token the page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def assert_escaped(html: str) -> None:
    """The hostile markup appears only as text."""
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
