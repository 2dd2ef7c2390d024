"""Many instances of a frozen slots dataclass at once, built column by column."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeVar

T = TypeVar("T")


def build_many(
    cls: type[T],
    count: int,
    *,
    each: Mapping[str, Sequence[Any]],
    shared: Mapping[str, Any],
) -> list[T]:
    """``count`` instances of ``cls``, equal to calling ``cls(**fields)`` for each.

    A field in ``each`` takes its values from that sequence in order; a field in
    ``shared`` has that one value in every instance; any other field takes its default
    (a ``default_factory`` is called once per instance). A frozen dataclass's
    ``__init__`` sets each field through a Python-level ``object.__setattr__`` call,
    which made building the jobs a bulk enqueue returns cost more than inserting them;
    here one C-level ``map`` fills each slot of every instance, about three times faster.
    Those calls cost the same for one instance as for thousands, so a handful (a single
    enqueue, a one-job claim) is built with ``__init__`` instead.
    ``cls`` must be a slots dataclass without ``__post_init__``.
    """
    fields, setters = _layout(cls)
    unknown = (each.keys() | shared.keys()) - setters.keys()
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
    if count < _COLUMNS_FROM:
        return _one_by_one(cls, count, fields, each, shared)
    with collector_paused():
        return _by_columns(cls, count, fields, setters, each, shared)


_pause_allowed = False


def allow_collector_pause(allowed: bool) -> None:
    """Whether ``collector_paused`` may turn the cyclic collector off in this process
    (the ``pause_gc_during_enqueue`` setting). Off by default: the collector belongs to
    the whole process, and an application that embeds Conveyor did not ask for it to stop."""
    global _pause_allowed
    _pause_allowed = allowed


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off while a batch of objects is built, when
    ``allow_collector_pause`` allowed it.

    The collector runs after every 700 new container objects, and as the batch ages it
    walks every object alive, the host application's too; a batch of jobs holds no
    reference cycles, so the walks find nothing. The collector runs again as usual once
    the batch is built. Left alone if it was off already. Measured by
    ``python -m benchmarks.gc_pause`` (docs/benchmarks.md).
    """
    if not _pause_allowed or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _by_columns(
    cls: type[T],
    count: int,
    fields: tuple[dataclasses.Field[Any], ...],
    setters: Mapping[str, Any],
    each: Mapping[str, Sequence[Any]],
    shared: Mapping[str, Any],
) -> list[T]:
    instances: list[T] = list(map(object.__new__, repeat(cls, count)))
    for field in fields:
        values: Iterable[Any]
        if field.name in each:
            values = each[field.name]
            if len(each[field.name]) != count:
                raise ValueError(f"{field.name}: {len(each[field.name])} values for {count}")
        elif field.name in shared:
            values = repeat(shared[field.name], count)
        elif field.default_factory is not dataclasses.MISSING:
            factory = field.default_factory
            values = [factory() for _ in range(count)]
        elif field.default is not dataclasses.MISSING:
            values = repeat(field.default, count)
        else:
            raise TypeError(f"{cls.__name__}: no value for {field.name!r}")
        deque(map(setters[field.name], instances, values), maxlen=0)
    return instances


def fill(instances: Sequence[Any], name: str, values: Sequence[Any]) -> None:
    """Set field ``name`` of each of ``instances`` (built by ``build_many``) to the value
    at its position: a field whose values are known only after the rest."""
    if len(values) != len(instances):
        raise ValueError(f"{name}: {len(values)} values for {len(instances)}")
    if instances:
        setter = _layout(type(instances[0]))[1][name]
        deque(map(setter, instances, values), maxlen=0)


def _one_by_one(
    cls: type[T],
    count: int,
    fields: tuple[dataclasses.Field[Any], ...],
    each: Mapping[str, Sequence[Any]],
    shared: Mapping[str, Any],
) -> list[T]:
    """``build_many`` through ``__init__``, with the same errors."""
    for field in fields:
        if field.name not in each and field.name not in shared and _required(field):
            raise TypeError(f"{cls.__name__}: no value for {field.name!r}")
    for name, column in each.items():
        if len(column) != count:
            raise ValueError(f"{name}: {len(column)} values for {count}")
    return [
        cls(**shared, **{name: column[i] for name, column in each.items()}) for i in range(count)
    ]


def _required(field: dataclasses.Field[Any]) -> bool:
    no_factory = field.default_factory is dataclasses.MISSING
    return field.default is dataclasses.MISSING and no_factory


# From this many instances on, filling slots column by column beats one __init__ each
# (a 29-field Job: the crossover measured at about ten).
_COLUMNS_FROM = 8

Layout = tuple[tuple[dataclasses.Field[Any], ...], dict[str, Any]]
_LAYOUTS: dict[type[Any], Layout] = {}


def _layout(cls: type[Any]) -> Layout:
    if cls not in _LAYOUTS:
        _LAYOUTS[cls] = _read_layout(cls)
    return _LAYOUTS[cls]


def _read_layout(cls: type[Any]) -> Layout:
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a dataclass without __post_init__")
    fields = dataclasses.fields(cls)
    if set(getattr(cls, "__slots__", ())) != {f.name for f in fields}:
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    # The slot descriptors themselves: they write past a frozen class's __setattr__.
    return fields, {f.name: cls.__dict__[f.name].__set__ for f in fields}
