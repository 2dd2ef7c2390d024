"""The worker's tally: outcomes, histogram buckets, JSON round trip, merging, exposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from conveyor.job import Job, JobState
from conveyor.metrics.cluster import exposition
from conveyor.metrics.families import Figures
from conveyor.metrics.tally import DURATION_BUCKETS, KEPT_HOURS, KEPT_MINUTES, Tally, outcome_of
from conveyor.store.base import Completion, Failure

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def running(attempt: int, max_attempts: int = 3, queue: str = "email") -> Job:
    return Job(
        id=1,
        task="mail",
        queue=queue,
        state=JobState.RUNNING,
        payload={},
        priority=0,
        attempt=attempt,
        max_attempts=max_attempts,
        run_at=NOW,
        created_at=NOW,
    )


def failure(retry_at: datetime | None) -> Failure:
    return Failure(1, "t", None, retry_at=retry_at)  # type: ignore[arg-type]


def test_outcome_follows_what_the_worker_writes() -> None:
    assert outcome_of(running(1), Completion(1, "t"), cancelled=False) == "completed"
    assert outcome_of(running(1), None, cancelled=False) == "completed"
    assert outcome_of(running(1), failure(NOW), cancelled=False) == "retried"
    assert outcome_of(running(3), failure(NOW), cancelled=False) == "failed"
    assert outcome_of(running(1), failure(None), cancelled=False) == "failed"
    assert outcome_of(running(1), failure(NOW), cancelled=True) == "cancelled"


def test_tally_survives_json_and_merges_by_label() -> None:
    one, two = Tally(), Tally()
    one.finish(running(1), "completed", 0.003)
    one.finish(running(1), "completed", 7.0)
    two.finish(running(1), "completed", 1000.0)
    two.finish(running(1, queue="sms"), "failed", 0.2)
    one.rate_waits["mail"] += 2
    two.rate_waits["mail"] += 3

    merged = Tally.merged([one.to_json(), two.to_json(), None, "not json"])

    assert merged.finished == {("mail", "email", "completed"): 3, ("mail", "sms", "failed"): 1}
    assert merged.rate_waits == {"mail": 5}
    email = merged.durations[("mail", "email")]
    assert sum(email.buckets) == 3 and email.total == 1007.003
    assert email.buckets[0] == 1  # 3 ms falls in the first bucket
    assert email.buckets[DURATION_BUCKETS.index(10.0)] == 1  # 7 s, in (5, 10]
    assert email.buckets[-1] == 1  # past the last bound: +Inf only


def test_exposition_has_the_contracted_names_and_cumulative_buckets() -> None:
    tally = Tally()
    tally.finish(running(1), "completed", 0.003)
    tally.finish(running(1), "completed", 7.0)
    tally.rate_waits["mail"] += 4

    text = exposition(Figures(tally=tally, now=NOW, depths=[], workers=[])).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    assert {"conveyor_jobs_finished", "conveyor_job_duration_seconds"} <= set(families)
    assert "conveyor_worker_executors" in families and "conveyor_workers" in families
    (waits,) = families["conveyor_rate_limit_waits"].samples
    assert (waits.name, waits.labels, waits.value) == (
        "conveyor_rate_limit_waits_total",
        {"task": "mail"},
        4,
    )
    buckets = {
        s.labels["le"]: s.value
        for s in families["conveyor_job_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert buckets["0.005"] == 1 and buckets["10.0"] == 2 and buckets["+Inf"] == 2


def test_tally_counts_recent_runs_per_minute_and_hour_and_survives_json() -> None:
    one, two = Tally(), Tally()
    at = datetime(2026, 1, 1, 11, 58, 30, tzinfo=UTC)
    one.finish(running(1), "completed", 0.1, at=at)
    one.finish(running(1), "completed", 0.1, at=at)
    two.finish(running(1), "failed", 0.1, at=at + timedelta(minutes=1))
    two.finish(running(1), "retried", 0.1, at=at - timedelta(hours=3))
    two.finish(running(1), "completed", 0.1)  # no time: counted in the totals only

    merged = Tally.merged([one.to_json(), two.to_json()])
    activity = merged.activity(datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC))

    assert len(activity.per_minute) == 60 and len(activity.per_hour) == 24
    assert activity.per_minute[-1].start == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    by_start = {m.start.minute: m for m in activity.per_minute}
    assert by_start[58].completed == 2 and by_start[59].failed == 1
    assert sum(m.completed + m.failed + m.retried for m in activity.per_minute) == 3
    hours = {h.start.hour: h for h in activity.per_hour}
    assert hours[11].completed == 2 and hours[11].failed == 1 and hours[8].retried == 1
    assert activity.totals == {"completed": 3, "failed": 1, "cancelled": 0, "retried": 1}


def test_tally_forgets_buckets_older_than_it_keeps() -> None:
    tally = Tally()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in range(3 * 24 * 60):  # three days of one run a minute
        tally.finish(running(1), "completed", 0.1, at=start + timedelta(minutes=minute))

    assert len(tally.minutes) <= KEPT_MINUTES and len(tally.hours) <= KEPT_HOURS
    written = Tally.from_json(tally.to_json())
    assert len(written.minutes) == KEPT_MINUTES and len(written.hours) == KEPT_HOURS
    assert written.finished[("mail", "email", "completed")] == 3 * 24 * 60


def test_alert_failures_survive_json_and_merge_by_channel() -> None:
    one, two = Tally(), Tally()
    one.alert_failed("webhook")
    one.alert_failed("webhook")
    two.alert_failed("email")
    two.alert_failed("webhook")

    merged = Tally.merged([one.to_json(), two.to_json()])

    assert merged.alert_failures == {"webhook": 3, "email": 1}


def test_a_tally_written_before_alert_failures_existed_reads_as_none_counted() -> None:
    old = '{"finished":[["mail","email","completed",2]],"durations":[],"rate_waits":[]}'

    tally = Tally.from_json(old)

    assert tally.finished == {("mail", "email", "completed"): 2}
    assert tally.alert_failures == {}


def test_exposition_has_enqueued_jobs_and_alert_delivery_failures() -> None:
    tally = Tally()
    tally.alert_failed("webhook")
    enqueued = {("mail", "email"): 7, ("sms", "text"): 1}

    text = exposition(Figures(tally=tally, now=NOW, enqueued=enqueued)).decode()
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }

    assert found[("conveyor_jobs_enqueued_total", (("queue", "email"), ("task", "mail")))] == 7
    assert found[("conveyor_jobs_enqueued_total", (("queue", "text"), ("task", "sms")))] == 1
    assert found[("conveyor_alert_delivery_failures_total", (("channel", "webhook"),))] == 1


def test_a_worker_endpoint_without_enqueue_figures_has_no_enqueued_family() -> None:
    text = exposition(Figures(tally=Tally(), now=NOW, executors=2)).decode()

    assert "conveyor_jobs_enqueued" not in text
