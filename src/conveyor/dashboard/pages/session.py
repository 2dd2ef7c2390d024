"""Signing in and out: ``/login`` takes a token and sets the session cookie; ``/logout``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from conveyor.dashboard.auth import LOGIN_COOKIE, SESSION_COOKIE, set_cookie
from conveyor.dashboard.render import render
from conveyor.dashboard.site import Site


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    auth = site.auth

    @routes.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/") -> Response:
        if not auth.enabled:
            return RedirectResponse("/", status_code=303)
        return _form(request, next_path=next)

    @routes.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=4096)] = "",
        csrf: Annotated[str, Form(max_length=256)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        if not auth.enabled:
            return RedirectResponse("/", status_code=303)
        if not auth.login_nonce_matches(request, csrf):
            return _form(request, next_path=next, error="The form expired: try again.", status=403)
        cookie = auth.sign_in(token)
        if cookie is None:
            return _form(request, next_path=next, error="That token is not valid.", status=401)
        response = RedirectResponse(_local(next), status_code=303)
        set_cookie(response, request, SESSION_COOKIE, cookie)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @routes.post("/logout")
    async def logout(request: Request) -> Response:
        await auth.poster(request)
        return _signed_out()

    @routes.get("/logout")
    async def logout_link() -> Response:
        # Signing out needs no proof: the worst a forged link can do is sign somebody out.
        return _signed_out()

    def _form(request: Request, *, next_path: str, error: str = "", status: int = 200) -> Response:
        nonce, cookie = auth.login_nonce(request)
        html = render("login.html", csrf=nonce, next_path=_local(next_path), error=error)
        response = HTMLResponse(html, status_code=status)
        if cookie is not None:
            set_cookie(response, request, LOGIN_COOKIE, cookie)
        return response

    return routes


def _signed_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _local(path: str) -> str:
    """``path`` when it stays on this site, else ``/``: a login link must not send the
    signed-in browser elsewhere."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
