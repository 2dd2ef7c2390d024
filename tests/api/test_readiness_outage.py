"""/health/ready against a PostgreSQL that really goes away and comes back (a private
instance: the shared cluster is never stopped)."""

from __future__ import annotations

import asyncio

import pytest

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api.conftest import client_for
from tests.private_pg import available, private_postgres

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

# Only a hang guard: the probe bounds itself far below this.
HANG_GUARD = 20.0


async def test_ready_answers_503_during_an_outage_and_200_after_it() -> None:
    with private_postgres() as server:
        app = Conveyor(server.url, api_token=None)
        client = client_for(create_api(app))
        try:
            await app.migrate()
            ok = await client.get("/health/ready")
            assert ok.status_code == 200, ok.text

            server.stop()
            down = await asyncio.wait_for(client.get("/health/ready"), HANG_GUARD)
            assert down.status_code == 503, down.text
            body = down.json()
            assert body["checks"]["database"] == "unreachable"
            [reason] = body["reasons"]
            assert str(server.port) not in reason and "127.0.0.1" not in reason
            assert (await client.get("/health")).status_code == 200

            server.start()
            status = 0
            for _ in range(100):  # the pool replaces its broken connections; bounded
                response = await asyncio.wait_for(client.get("/health/ready"), HANG_GUARD)
                status = response.status_code
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200
        finally:
            await client.aclose()
            await app.close()
