"""Hostile HTTP: schemathesis over the whole OpenAPI document, and the inputs that gave
500s before (defects 6 and 8 of #21). No request may get a 5xx, a stored row must never
break a listing, and no answer may carry a connection string."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tests import pg
from tests.chaos.hostile_api import build, migrate_all
from tests.chaos.private_pg import free_port
from tests.chaos.support import LONG, ROOT, eventually

pytestmark = [pytest.mark.timeout(600 if LONG else 120)]
# The document only: the app behind it is never served, but its files go to a temp folder.
_SCHEMA_DIR = Path(tempfile.mkdtemp(prefix="conveyor-hostile-schema-"))
# A document, not an ASGI app: a case of an ASGI schema calls that app in this process
# whatever base URL it is given, and the live server would never see it.
schema = schemathesis.openapi.from_dict(
    build(f"sqlite:///{_SCHEMA_DIR / 'unused.db'}", _SCHEMA_DIR)[1].openapi()
)
DEPTH = 500
TOO_BIG = 2**64


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hostile_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the module: hostile requests need no isolation."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}"
        asyncio.run(migrate_all(url))
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = pg.unique_name("chaos_hostile")
    url = pg.create_database(name, template=template)
    asyncio.run(migrate_all(url))
    yield url
    pg.drop_database(name)


@pytest.fixture(scope="module")
def live(hostile_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``conveyor api`` process on the module's database: its base URL."""
    port = free_port()
    server = start_api(hostile_url, tmp_path_factory.mktemp("data"), port)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_serving(base))
        yield base
    finally:
        server.kill()
        server.wait()


@schema.parametrize()
@settings(
    max_examples=60 if LONG else 8,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: a failure here is never luck
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case, live: str) -> None:
    response = case.call(base_url=live, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}: "
        f"{response.status_code} {response.text[:500]}"
    )
    assert "postgresql://" not in response.text and "sqlite:///" not in response.text


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


ENQUEUE = "/api/tasks/chaos.anything"
CAMPAIGN = "/api/tasks/email.send_campaign"
# (method, path, raw JSON body or None): each one gave a 500 (or hung) before.
DEFECT_6 = [
    ("POST", ENQUEUE, json.dumps({"data": nested(DEPTH)})),
    ("POST", ENQUEUE, '{"data": {"\\ud800": 1}}'),
    ("POST", ENQUEUE, '{"data": "lone \\udfff surrogate"}'),
    ("POST", ENQUEUE, '{"amount": Infinity}'),
    ("POST", ENQUEUE, '{"amount": -Infinity}'),
    ("POST", ENQUEUE, '{"amount": NaN}'),
    ("POST", ENQUEUE, '{"amount": 1e400}'),
    ("POST", ENQUEUE, '{"data": {"x": NaN}}'),
]


def campaign(body: str) -> str:
    return json.dumps({"tenant_id": 1, "subject": "Hi", "body": body})


DEFECT_8 = [
    ("GET", f"/api/campaigns/{2**63}", None),
    ("GET", f"/api/campaigns/{TOO_BIG}", None),
    ("GET", f"/api/customers/{TOO_BIG}/credits", None),
    ("GET", f"/api/tenants/{TOO_BIG}/summaries", None),
    ("GET", f"/api/campaigns/-{TOO_BIG}", None),
    ("POST", CAMPAIGN, campaign("{% for i in range(10**9) %}x{% endfor %}")),
    (
        "POST",
        CAMPAIGN,
        campaign(
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "x{% endfor %}{% endfor %}{% endfor %}"
        ),
    ),
    ("POST", CAMPAIGN, campaign("{{ 'x' * 10**9 }}")),
    ("POST", CAMPAIGN, campaign("{{ ('x' * 10**5) * 10**5 }}")),
]


Input = tuple[str, str, str | None]


async def send(
    client: httpx.AsyncClient, method: str, path: str, body: str | None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return await client.request(method, path, content=body, headers=headers)


def in_process(api: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def failures_of(client: httpx.AsyncClient, inputs: list[Input]) -> tuple[list[str], int]:
    """Each input's failure (a 5xx, a hang, a connection string), and how many were
    accepted."""
    failures = []
    accepted = 0
    for method, path, body in inputs:
        shown = f"{method} {path} {(body or '')[:60]!r}"
        try:
            response = await send(client, method, path, body)
        except httpx.TimeoutException:
            failures.append(f"{shown}: no answer within the hang guard")
            continue
        except httpx.TransportError as exc:
            failures.append(f"{shown}: no answer ({type(exc).__name__})")
            continue
        accepted += response.status_code in (200, 202)
        if response.status_code >= 500 or "postgresql://" in response.text:
            failures.append(f"{shown}: {response.status_code} {response.text[:200]}")
    return failures, accepted


async def listing_failures(client: httpx.AsyncClient, accepted: int) -> list[str]:
    """Whatever was stored must list and show, and each 2xx made exactly one job."""
    listed = await send(client, "GET", "/api/jobs?limit=500", None)
    if listed.status_code != 200:
        return [f"GET /api/jobs: {listed.status_code} {listed.text[:200]}"]
    jobs = listed.json()["jobs"]
    failures = []
    for job in jobs:
        shown = await send(client, "GET", f"/api/jobs/{job['id']}", None)
        if shown.status_code != 200:
            failures.append(f"GET /api/jobs/{job['id']}: {shown.status_code}")
    if len(jobs) != accepted:
        failures.append(f"{accepted} requests accepted but {len(jobs)} jobs stored")
    return failures


async def test_the_defect_6_payloads_get_422_and_break_no_listing(
    store_url: str, tmp_path: Path
) -> None:
    await migrate_all(store_url)
    app, api = build(store_url, tmp_path)
    try:
        async with in_process(api) as client:
            failures, accepted = await failures_of(client, DEFECT_6)
            failures += await listing_failures(client, accepted)
    finally:
        await app.close()
    assert not failures, "\n".join(failures)


async def test_the_defect_8_ids_and_templates_get_422(store_url: str, tmp_path: Path) -> None:
    """Through a real server process: a template that blocks the server's loop cannot be
    timed out from inside that loop, but its process can be killed afterwards."""
    await migrate_all(store_url)
    port = free_port()
    server = start_api(store_url, tmp_path, port)
    try:
        # The hang guard: a validation that blocks the server for long fails here.
        base = f"http://127.0.0.1:{port}"
        await wait_serving(base)
        async with httpx.AsyncClient(
            base_url=base,
            timeout=3,
            limits=httpx.Limits(max_keepalive_connections=0),  # a fresh connection each
        ) as client:
            failures, _ = await failures_of(client, DEFECT_8)
    finally:
        server.kill()
        server.wait()
    assert not failures, "\n".join(failures)


def start_api(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CONVEYOR_DATABASE_URL": url,
        "CONVEYOR_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "conveyor.cli", "--app", "tests.chaos.hostile_api:app"]
    return subprocess.Popen(
        [*command, "api", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_serving(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:

        async def serving() -> bool:
            try:
                return (await client.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(serving, timeout=60, what="the API serving")
