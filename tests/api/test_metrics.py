"""GET /metrics: Prometheus text over the store's figures, behind the read role."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api, MakeApi
from tests.api.test_auth import ADMIN_TOKEN, READER_TOKEN, TOKENS

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_report_depth_and_lag_of_waiting_jobs(api: Api) -> None:
    await api.app.enqueue("wash", {"plate": "AB-1"})
    await api.app.enqueue("wash", {"plate": "AB-2"}, delay=timedelta(hours=1))
    api.clock.advance(timedelta(seconds=42))

    response = await api.client.get("/metrics")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    figures = parse(response.text)
    assert figures[("conveyor_queue_depth", (("queue", "washes"), ("state", "available")))] == 1
    assert figures[("conveyor_queue_depth", (("queue", "washes"), ("state", "scheduled")))] == 1
    assert figures[("conveyor_queue_depth", (("queue", "washes"), ("state", "running")))] == 0
    assert figures[("conveyor_queue_lag_seconds", (("queue", "washes"),))] == 42


async def test_lag_is_zero_when_nothing_could_run(api: Api) -> None:
    await api.app.enqueue("wash", {"plate": "AB-2"}, delay=timedelta(hours=1))
    figures = parse((await api.client.get("/metrics")).text)
    assert figures[("conveyor_queue_lag_seconds", (("queue", "washes"),))] == 0


async def test_metrics_need_a_token_once_tokens_are_set(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)

    assert (await api.client.get("/metrics")).status_code == 401
    for token in (READER_TOKEN, ADMIN_TOKEN):
        headers = {"Authorization": f"Bearer {token}"}
        assert (await api.client.get("/metrics", headers=headers)).status_code == 200
