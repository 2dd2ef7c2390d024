"""The parameters of PostgreSQL's fenced lifecycle statements."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.errors import StoreError
from conveyor.job import Lease
from conveyor.store.base import Completion
from conveyor.store.postgres.fence import fenced, results_json, returned_ids

LATER = datetime(2026, 1, 1, tzinfo=UTC)


def test_ids_and_tokens_travel_as_aligned_comma_separated_texts() -> None:
    leases = [Lease(7, "a-1", LATER), Lease(12, "b-2", LATER)]

    assert fenced(leases) == {"ids": "7,12", "tokens": "a-1,b-2"}
    assert fenced([]) == {"ids": "", "tokens": ""}


def test_a_token_with_a_comma_is_refused_rather_than_paired_with_the_wrong_job() -> None:
    with pytest.raises(StoreError, match="comma"):
        fenced([Lease(1, "x,y", LATER), Lease(2, "z", LATER)])


def test_results_are_sent_only_when_some_job_returned_one() -> None:
    assert results_json([Completion(1, "t"), Completion(2, "u")]) == []
    assert results_json([Completion(1, "t"), Completion(2, "u", {"n": 1})]) == [None, '{"n": 1}']


def test_returned_ids_read_the_one_array_row() -> None:
    assert returned_ids([{"ids": [3, 1]}]) == [3, 1]
    assert returned_ids([{"ids": None}]) == []
    assert returned_ids([]) == []
