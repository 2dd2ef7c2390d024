"""The crash-test plan: each kind of kill point first, rarest first, then the rest."""

from __future__ import annotations

import itertools
import random

from conveyor.crashtest.harness import KillPoint, kill_plan
from conveyor.crashtest.points import PointKind

POINTS = [
    KillPoint(0, PointKind.STATEMENT, 0, "a"),
    KillPoint(1, PointKind.TRANSACTION, 0, "b"),
    KillPoint(2, PointKind.TRANSACTION, 1, "c"),
    KillPoint(3, PointKind.COMMITTED, 0, "d"),
    KillPoint(4, PointKind.STATEMENT, 1, "e"),
    KillPoint(5, PointKind.STATEMENT, 2, "f"),
    KillPoint(6, PointKind.ACK, 0, "g"),
]


def test_the_plan_takes_one_point_of_each_kind_first_rarest_first() -> None:
    first = list(itertools.islice(kill_plan(POINTS, random.Random(1)), 4))
    assert [p.kind for p in first][:2] in (
        [PointKind.COMMITTED, PointKind.ACK],
        [PointKind.ACK, PointKind.COMMITTED],
    )
    assert [p.kind for p in first][2:] == [PointKind.TRANSACTION, PointKind.STATEMENT]


def test_the_plan_then_covers_every_point_before_repeating_one() -> None:
    planned = list(itertools.islice(kill_plan(POINTS, random.Random(2)), len(POINTS)))
    assert sorted(p.number for p in planned) == list(range(len(POINTS)))


def test_the_same_seed_gives_the_same_plan() -> None:
    one = list(itertools.islice(kill_plan(POINTS, random.Random(7)), 20))
    two = list(itertools.islice(kill_plan(POINTS, random.Random(7)), 20))
    assert one == two
