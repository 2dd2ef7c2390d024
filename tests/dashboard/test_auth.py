"""Dashboard sign-in, sessions, CSRF and the read-only rule, in process on both stores."""

from __future__ import annotations

import re

import httpx

from conveyor.testing import drain
from tests.api.conftest import Api, MakeApi, client_for
from tests.dashboard.conftest import ADMIN_TOKEN, READER_TOKEN, TOKENS

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READER = {"Authorization": f"Bearer {READER_TOKEN}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login", data={"token": token, "csrf": csrf_of(form.text), "next": "/jobs"}
    )


async def failed_job(api: Api) -> int:
    job = await api.app.enqueue("explode", {"reason": "boom"})
    await drain(api.app)
    return job.id


async def test_without_credentials_pages_redirect_to_the_login(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    job_id = await failed_job(api)
    for path in ("/", "/jobs?state=failed", f"/jobs/{job_id}", "/partials/overview"):
        response = await api.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
        assert "boom" not in response.text and "explode" not in response.text
    polled = await api.client.get(f"/partials/jobs/{job_id}", headers={"HX-Request": "true"})
    assert polled.status_code == 401
    assert polled.headers["HX-Redirect"] == f"/login?next=%2Fpartials%2Fjobs%2F{job_id}"
    assert (
        await api.client.get("/jobs", headers={"Authorization": "Bearer wrong"})
    ).status_code == 401


async def test_logging_in_sets_a_signed_strict_http_only_session(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    refused = await log_in(api.client, "x" * 24)
    assert refused.status_code == 401
    assert "conveyor_session" not in refused.headers.get("set-cookie", "")
    accepted = await log_in(api.client, ADMIN_TOKEN)
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/jobs"
    cookie = accepted.headers["set-cookie"]
    assert cookie.startswith("conveyor_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ADMIN_TOKEN not in cookie
    assert (await api.client.get("/jobs")).status_code == 200


async def test_a_tampered_session_cookie_is_refused(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await log_in(api.client, READER_TOKEN)
    session = api.client.cookies["conveyor_session"]
    body, _, signature = session.partition(".")
    forged = body.replace(body[5], "A" if body[5] != "A" else "B", 1) + "." + signature
    api.client.cookies.set("conveyor_session", forged)
    assert (await api.client.get("/jobs")).status_code == 303


async def test_a_session_ends_when_its_token_is_removed(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await log_in(api.client, ADMIN_TOKEN)
    session = api.client.cookies["conveyor_session"]
    rotated = await make_api(api_token=f"viewer:read:{READER_TOKEN}")
    rotated.client.cookies.set("conveyor_session", session)
    assert (await rotated.client.get("/jobs")).status_code == 303


async def test_a_login_posted_without_the_forms_cookie_is_refused(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    form = await api.client.get("/login")
    csrf = csrf_of(form.text)
    # another site's form: the SameSite=Strict login cookie does not come along
    async with client_for(api.http) as stranger:
        refused = await stranger.post("/login", data={"token": ADMIN_TOKEN, "csrf": csrf})
    assert refused.status_code == 403
    assert "conveyor_session" not in refused.headers.get("set-cookie", "")


async def test_login_never_redirects_off_site(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil"):
        form = await api.client.get("/login")
        response = await api.client.post(
            "/login", data={"token": ADMIN_TOKEN, "csrf": csrf_of(form.text), "next": target}
        )
        assert response.headers["location"] == "/", target


async def test_a_read_token_sees_no_buttons_and_its_posts_answer_403(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    job_id = await failed_job(api)
    await log_in(api.client, READER_TOKEN)
    page = await api.client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and "boom" in page.text
    assert 'id="job-actions"' not in page.text
    listing = await api.client.get("/jobs?state=failed")
    assert "Retry the matching jobs" not in listing.text
    assert (await api.client.get("/jobs/bulk?action=retry")).status_code == 403
    csrf = csrf_of(page.text)  # the logout form's: a valid token of this session
    for path, data in (
        (f"/jobs/{job_id}/retry", {"csrf": csrf}),
        (f"/jobs/{job_id}/rerun", {"csrf": csrf}),
        ("/jobs/bulk", {"csrf": csrf, "action": "retry", "newest_id": str(job_id)}),
    ):
        assert (await api.client.post(path, data=data)).status_code == 403, path
    assert (await api.client.post(f"/jobs/{job_id}/retry", headers=READER)).status_code == 403
    assert (await api.app.get_job(job_id)).state.value == "failed"


async def test_an_admin_session_must_send_the_csrf_token(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    job_id = await failed_job(api)
    await log_in(api.client, ADMIN_TOKEN)
    page = await api.client.get(f"/jobs/{job_id}")
    assert 'id="job-actions"' in page.text
    assert (await api.client.post(f"/jobs/{job_id}/retry")).status_code == 403
    wrong = await api.client.post(f"/jobs/{job_id}/retry", data={"csrf": "forged"})
    assert wrong.status_code == 403
    assert (await api.app.get_job(job_id)).state.value == "failed"
    done = await api.client.post(f"/jobs/{job_id}/retry", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{job_id}"
    assert (await api.app.get_job(job_id)).state.value == "available"


async def test_the_csrf_token_may_come_as_the_htmx_header(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    job_id = await failed_job(api)
    await log_in(api.client, ADMIN_TOKEN)
    csrf = csrf_of((await api.client.get(f"/jobs/{job_id}")).text)
    fragment = await api.client.post(
        f"/jobs/{job_id}/retry", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert fragment.status_code == 200
    assert 'id="job-live"' in fragment.text
    assert "<html" not in fragment.text
    assert 'data-state="available"' in fragment.text


async def test_a_bearer_admin_token_acts_without_a_csrf_token(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    job_id = await failed_job(api)
    assert (await api.client.get(f"/jobs/{job_id}", headers=READER)).status_code == 200
    done = await api.client.post(f"/jobs/{job_id}/retry", headers=ADMIN)
    assert done.status_code == 303
    assert (await api.app.get_job(job_id)).state.value == "available"


async def test_without_tokens_there_is_no_login_but_forms_still_need_csrf(api: Api) -> None:
    job_id = await failed_job(api)
    page = await api.client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert "conveyor_session=" in page.headers["set-cookie"]
    assert (await api.client.get("/login")).headers["location"] == "/"
    async with client_for(api.http) as stranger:  # another site: no cookie of ours
        refused = await stranger.post(f"/jobs/{job_id}/retry", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    done = await api.client.post(f"/jobs/{job_id}/retry", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert (await api.app.get_job(job_id)).state.value == "available"


async def test_logging_out_ends_the_session(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await log_in(api.client, ADMIN_TOKEN)
    page = await api.client.get("/")
    assert (await api.client.post("/logout", data={"csrf": "forged"})).status_code == 403
    out = await api.client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await api.client.get("/")).status_code == 303
