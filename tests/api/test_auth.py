"""Bearer tokens with read and admin roles; /health needs none; no token configured = open."""

from __future__ import annotations

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.api import create_api
from conveyor.testing import drain
from tests.api._support import enqueue, error_of
from tests.api.conftest import Api, MakeApi

READER_TOKEN = "r" * 20
ADMIN_TOKEN = "a" * 20
TOKENS = f"reader:read:{READER_TOKEN},boss:admin:{ADMIN_TOKEN}"
AS_READER = {"Authorization": f"Bearer {READER_TOKEN}"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

READS = ["/api/tasks", "/api/jobs", "/api/jobs/1", "/api/stats", "/api/workers"]


@pytest.fixture
async def guarded(make_api: MakeApi) -> Api:
    api = await make_api(api_token=TOKENS)
    await api.app.enqueue("wash", {"plate": "A"})  # job 1, for /api/jobs/1
    return api


def _unauthorized(response_headers: dict[str, str]) -> None:
    assert response_headers["www-authenticate"] == "Bearer"


async def test_no_token_answers_401_everywhere_but_health(guarded: Api) -> None:
    client = guarded.client
    requests = [("GET", path) for path in READS] + [
        ("POST", "/api/tasks/wash"),
        ("POST", "/api/tasks/vacuum"),
        ("POST", "/api/jobs/1/cancel"),
        ("POST", "/api/sweep"),
    ]
    for method, path in requests:
        body = {"plate": "B"} if method == "POST" else None
        response = await client.request(method, path, json=body)
        error_of(response, 401, "unauthorized")
        _unauthorized(dict(response.headers))
    assert len((await guarded.app.list_jobs()).jobs) == 1, "nothing was enqueued"


async def test_wrong_or_malformed_tokens_answer_401(guarded: Api) -> None:
    for header in (
        f"Bearer {'z' * 20}",
        f"Bearer {READER_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        "Bearer",
        "Bearer ",
    ):
        response = await guarded.client.get("/api/jobs", headers={"Authorization": header})
        error_of(response, 401, "unauthorized")
        _unauthorized(dict(response.headers))


async def test_a_read_token_may_read_but_not_change(guarded: Api) -> None:
    client = guarded.client
    for path in READS:
        response = await client.get(path, headers=AS_READER)
        assert response.status_code == 200, (path, response.text)

    for path, body in [
        ("/api/tasks/wash", {"plate": "B"}),
        ("/api/tasks/vacuum", {"plate": "B"}),
        ("/api/jobs/1/cancel", None),
        ("/api/jobs/1/retry", None),
        ("/api/jobs/1/rerun", None),
        ("/api/jobs/retry-failed", {}),
        ("/api/sweep", None),
    ]:
        response = await client.post(path, json=body, headers=AS_READER)
        error_of(response, 403, "forbidden")
        assert "reader" in response.json()["error"]["message"]
    job = await guarded.app.get_job(1)
    assert job.state.value == "available", "the read token changed nothing"
    assert len((await guarded.app.list_jobs()).jobs) == 1


async def test_an_admin_token_may_do_everything(guarded: Api) -> None:
    client = guarded.client
    for path in READS:
        response = await client.get(path, headers=AS_ADMIN)
        assert response.status_code == 200, (path, response.text)

    enqueued = await enqueue(client, "wash", {"plate": "B"}, headers=AS_ADMIN)
    cancel = await client.post(f"/api/jobs/{enqueued['id']}/cancel", headers=AS_ADMIN)
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["state"] == "cancelled"
    retry = await client.post(f"/api/jobs/{enqueued['id']}/retry", headers=AS_ADMIN)
    assert retry.status_code == 200, retry.text
    await drain(guarded.app)
    rerun = await client.post(f"/api/jobs/{enqueued['id']}/rerun", headers=AS_ADMIN)
    assert rerun.status_code == 201, rerun.text
    bulk = await client.post("/api/jobs/retry-failed", json={}, headers=AS_ADMIN)
    assert bulk.json() == {"retried": 0}
    sweep = await client.post("/api/sweep", headers=AS_ADMIN)
    assert sweep.status_code == 200, sweep.text
    unknown = await client.post("/api/tasks/vacuum", json={}, headers=AS_ADMIN)
    error_of(unknown, 404, "task_not_found")


async def test_health_needs_no_token(guarded: Api) -> None:
    alive = await guarded.client.get("/health")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    ready = await guarded.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    document = await guarded.client.get("/openapi.json")
    assert document.status_code == 200


async def test_a_bare_token_is_an_admin_token(make_api: MakeApi) -> None:
    api = await make_api(api_token="x" * 20)
    as_default = {"Authorization": f"Bearer {'x' * 20}"}

    error_of(await api.client.get("/api/jobs"), 401, "unauthorized")
    job = await enqueue(api.client, "wash", {"plate": "A"}, headers=as_default)
    listed = await api.client.get("/api/jobs", headers=as_default)
    assert [j["id"] for j in listed.json()["jobs"]] == [job["id"]]
    sweep = await api.client.post("/api/sweep", headers=as_default)
    assert sweep.status_code == 200, sweep.text


async def test_the_token_scheme_is_case_insensitive(guarded: Api) -> None:
    response = await guarded.client.get(
        "/api/jobs", headers={"Authorization": f"bearer {READER_TOKEN}"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "spec",
    [
        "a:superuser:" + "x" * 20,
        "short",
        "boss:admin:" + "x" * 15,
        "boss:admin",
        "reader:read:" + "r" * 20 + ",oops:" + "x" * 20,
    ],
)
def test_bad_token_specs_are_refused_by_create_api(sqlite_url: str, spec: str) -> None:
    app = Conveyor(sqlite_url, api_token=spec)  # the store never opens: nothing to close
    with pytest.raises(ConfigurationError):
        create_api(app)


async def test_without_a_configured_token_everything_is_open(api: Api) -> None:
    client = api.client
    job = await enqueue(client, "wash", {"plate": "A"})
    for path in ["/api/tasks", "/api/jobs", f"/api/jobs/{job['id']}", "/api/stats"]:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
    assert (await client.get("/api/workers")).status_code == 200
    cancel = await client.post(f"/api/jobs/{job['id']}/cancel")
    assert cancel.status_code == 200, cancel.text
    assert (await client.post("/api/sweep")).status_code == 200
    # a presented token is ignored when none is configured
    response = await client.get("/api/jobs", headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 200
