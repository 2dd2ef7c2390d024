"""Employee import end to end: upload over HTTP, the job's report, the table, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from carwash.demodata import add_tenant
from carwash.models import Employee
from conveyor import Conveyor, JobState
from conveyor.api import create_api
from conveyor.testing import drain

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "employees.csv"
HEADER = "employee_number;first_name;last_name;email;role;hourly_wage;hired_on\r\n"


@pytest.fixture
def tenant(engine: Engine) -> int:
    with engine.begin() as conn:
        return add_tenant(conn, "Sparkle", "America/Chicago")


@pytest.fixture
async def app(make_app: Callable[..., Conveyor]) -> Conveyor:
    return make_app(upload_max_bytes=4_096, import_batch_size=2)


@pytest.fixture
async def client(app: Conveyor) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def upload(
    client: httpx.AsyncClient, tenant: int, data: bytes, name: str = "staff.csv"
) -> httpx.Response:
    return await client.post(
        f"/api/uploads/employees?tenant_id={tenant}", files={"file": (name, data, "text/csv")}
    )


async def imported(app: Conveyor, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    await drain(app)
    job = await app.get_job(response.json()["job"]["id"])
    assert job.state is JobState.COMPLETED
    assert isinstance(job.result, dict)
    return job.result


def employees(engine: Engine) -> dict[str, tuple[str, str, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Employee.employee_number,
                Employee.first_name,
                Employee.role,
                Employee.hourly_wage_cents,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def test_good_rows_are_upserted_and_bad_rows_reported(
    app: Conveyor, client: httpx.AsyncClient, engine: Engine, tenant: int
) -> None:
    report = await imported(app, await upload(client, tenant, EXAMPLE.read_bytes()))
    assert (report["rows_read"], report["inserted"], report["updated"], report["rejected"]) == (
        11,
        5,
        0,
        6,
    )
    assert {"line": 5, "column": "email"} in [
        {k: r[k] for k in ("line", "column")} for r in report["rejections"]
    ]
    assert employees(engine)["E-010"] == ("José", "detailer", 1800)

    changed = (
        HEADER
        + "E-001;Ana;Silva;ana@sparkle.example;washer;30.00;\r\n"
        + "E-011;Kai;Lo;k@x.example;washer;;\r\n"
    )
    again = await imported(app, await upload(client, tenant, changed.encode("utf-8-sig")))
    assert (again["inserted"], again["updated"], again["rejected"]) == (1, 1, 0)
    assert again["encoding"] == "utf-8-sig" and again["delimiter"] == ";"
    assert employees(engine)["E-001"] == ("Ana", "washer", 3000)
    assert len(employees(engine)) == 6


async def test_latin_1_files_keep_their_accents(
    app: Conveyor, client: httpx.AsyncClient, engine: Engine, tenant: int
) -> None:
    data = (HEADER + "L-1;Zoë;Müller;z@example.com;washer;12.50;\r\n").encode("latin-1")
    report = await imported(app, await upload(client, tenant, data))
    assert report["encoding"] == "windows-1252" and report["inserted"] == 1
    assert employees(engine)["L-1"][0] == "Zoë"


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 422, "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(300), 422, "binary"),
        (b"name,email\r\nAna,a@example.com\r\n", 422, "lacks employee_number"),
        ((HEADER + "x;" * 3_000).encode(), 413, "larger than 4096 bytes"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_refused_at_upload(
    app: Conveyor, client: httpx.AsyncClient, tenant: int, data: bytes, status: int, words: str
) -> None:
    response = await upload(client, tenant, data)
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert (await app.list_jobs(task="employees.import")).jobs == []


async def test_an_upload_for_an_unknown_tenant_is_404(client: httpx.AsyncClient) -> None:
    response = await upload(client, 4242, EXAMPLE.read_bytes())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_an_import_of_a_missing_file_finishes_with_a_report_that_says_why(
    app: Conveyor, tenant: int
) -> None:
    job = await app.enqueue("employees.import", {"tenant_id": tenant, "file_id": "0" * 32})
    await drain(app)
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert "no stored file" in done.result["error"]


async def test_uploaded_files_expire_after_the_retention(
    make_app: Callable[..., Conveyor], tenant: int, client: httpx.AsyncClient, app: Conveyor
) -> None:
    response = await upload(client, tenant, EXAMPLE.read_bytes())
    file_id = response.json()["file"]["id"]
    assert (await client.get(f"/api/uploads/{file_id}")).status_code == 200
    sweeper = make_app(upload_retention=timedelta(0))
    job = await sweeper.enqueue("files.cleanup", {})
    await drain(sweeper, queues=["maintenance"])
    assert (await sweeper.get_job(job.id)).result == {"removed": 1}
    assert (await client.get(f"/api/uploads/{file_id}")).status_code == 404
