"""JobState and TRANSITIONS: the state machine of DESIGN.md §3."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.job import FINAL_STATES, TRANSITIONS, Job, JobState, can_transition
from tests.contract import JOB_JSON_KEYS


def test_every_state_has_a_transition_entry() -> None:
    assert set(TRANSITIONS) == set(JobState)


def test_final_states_are_completed_failed_cancelled() -> None:
    assert {s.value for s in FINAL_STATES} == {"completed", "failed", "cancelled"}
    assert all(s.is_final for s in FINAL_STATES)


def test_completed_is_terminal_but_failed_and_cancelled_can_be_retried() -> None:
    assert TRANSITIONS[JobState.COMPLETED] == frozenset()
    assert can_transition(JobState.FAILED, JobState.AVAILABLE)
    assert can_transition(JobState.CANCELLED, JobState.AVAILABLE)


def test_any_non_final_state_can_be_cancelled() -> None:
    for state in set(JobState) - FINAL_STATES:
        assert can_transition(state, JobState.CANCELLED), state


def test_running_ends_in_completed_retrying_or_failed() -> None:
    for target in (JobState.COMPLETED, JobState.RETRYING, JobState.FAILED):
        assert can_transition(JobState.RUNNING, target)
    assert not can_transition(JobState.AVAILABLE, JobState.COMPLETED)


def test_job_json_has_the_contract_keys() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    job = Job(
        id=1,
        task="t",
        queue="q",
        state=JobState.AVAILABLE,
        payload={"a": 1},
        priority=0,
        attempt=0,
        max_attempts=3,
        run_at=moment,
        created_at=moment,
    )
    assert tuple(job.to_json()) == JOB_JSON_KEYS
    assert job.to_json()["run_at"] == "2026-01-01T00:00:00+00:00"
