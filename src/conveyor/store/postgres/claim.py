"""Claims on PostgreSQL: the plain claim with the flow probe in one statement, on
connections of their own, and the flow claim (limits, rate tokens, fairness)."""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg

from conveyor.store.postgres.connector import (
    QUERIES,
    Pool,
    PostgresConnector,
    json_as_text,
    translate,
)
from conveyor.store.runner import Row


def _with_flow_probe(claim: LiteralString) -> LiteralString:
    """``claim`` (a plain claim statement) with the flow probe answered beside it: every
    row gains a last column ``flow_waiting``, and a claim that takes nothing still
    returns one row (all job columns NULL) to carry the answer. Composed here so that the
    probe is written once, in ``flow_jobs_waiting``."""
    probe = QUERIES["flow_jobs_waiting"].rstrip().removesuffix(";")
    return (
        "WITH claimed AS (" + claim.rstrip().removesuffix(";") + "), flow AS (" + probe + ")"
        " SELECT claimed.*, EXISTS (SELECT FROM flow) AS flow_waiting"
        " FROM (SELECT) AS one LEFT JOIN claimed ON true"
    )


WITH_FLOW_PROBE = {
    name: _with_flow_probe(QUERIES[name]) for name in ("claim_jobs", "claim_jobs_any_queue")
}


async def configure_claim_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """Session settings of the store's own claim connections (never lent to other SQL).

    ``synchronous_commit = off``: a claim's commit returns without waiting for its WAL
    flush, the largest fixed cost of starting a job
    on an idle worker. A PostgreSQL crash may forget claims of the last few hundred
    milliseconds (``wal_writer_delay``, three times over at most); such a job is
    ``available`` again and runs once more, as at-least-once allows (DESIGN §2.2), and
    its first run's ack is fenced out by the lost lease token. Every later synchronous
    commit (an ack, a heartbeat, an enqueue) flushes the claim with it. Enqueues, acks
    and handler transactions use the main pool and stay fully durable (DESIGN §2.1).
    """
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET enable_sort = off")
    # A priced-out sort puts every claim plan's cost past jit_above_cost: with JIT on,
    # each claim would compile its plan to machine code first.
    await conn.execute("SET jit = off")
    # Planned once per connection, not per claim. Once statistics exist, PostgreSQL's
    # default (auto) often judges a custom plan cheaper for the claim and then plans it
    # afresh on every execution, a large share of a claim's backend CPU.
    # Without the limit's value a generic plan may expect many picked rows and update
    # them by hashing a scan of the whole table; with hash and merge joins priced out it
    # is the custom plan's shape, one primary-key lookup per picked job.
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute("SET enable_hashjoin = off")
    await conn.execute("SET enable_mergejoin = off")
    # psycopg hands timestamps back in the session's zone: for 'UTC' that is
    # datetime.timezone.utc, which the store keeps as it is; for a named zone (even
    # 'Etc/UTC') a ZoneInfo that every value must be converted from, twice the decoding.
    await conn.execute("SET TIME ZONE 'UTC'")


async def claim_connections(db: PostgresConnector) -> Pool:
    """The store's own claim connections (``configure_claim_connection``)."""
    return await db.side_pool("claims", max_size=2, configure=configure_claim_connection)


async def claim_plain(
    db: PostgresConnector, name: str, params: dict[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """Run the plain claim ``name`` with the flow probe (``flow_jobs_waiting``) in one
    statement on a claim connection (``WITH_FLOW_PROBE``): the claimed rows' column
    names, the rows (as tuples: rows.claimed_jobs_from_columns reads them by column,
    so a dict per row would only be taken apart again), and whether a flow job waits.

    A one-job claim (an idle worker woken by one enqueue) always leaves free slots, so
    the question rides with every claim: asked as a second statement it costs a round
    trip of its own, and more than this form even in a pipeline with the claim. The
    probe reads rows the claim never touches (plain and flow jobs are disjoint).

    The claim must walk its index in claim order and stop at the limit. A planner
    without fresh statistics (a burst of jobs into a table autovacuum has not analysed
    yet) may instead read every due job and sort them, for every batch, which makes
    claims from a large backlog several times slower. The claim connections have
    ``enable_sort = off`` for their whole session, which leaves the index walk as the
    only cheap plan in one round trip; they are the store's own, never lent to handler
    SQL, so the setting (and ``synchronous_commit``, see ``configure_claim_connection``)
    reaches no other statement.
    """
    try:
        async with (
            (await claim_connections(db)).connection() as conn,
            conn.cursor() as cur,
        ):
            json_as_text(cur)
            await cur.execute(WITH_FLOW_PROBE[name], params)
            rows = await cur.fetchall()
            names = [column.name for column in cur.description or ()]
    except psycopg.Error as exc:
        raise translate(exc, db.url) from exc
    # The last column is the probe's answer; a claim that took nothing leaves the one
    # row of the outer join, whose job columns are all NULL.
    flow_waiting = bool(rows[0][-1])
    claimed = [row[:-1] for row in rows if row[0] is not None]
    return names[:-1], claimed, flow_waiting


async def claim_flow(db: PostgresConnector, params: dict[str, Any]) -> list[Row]:
    """Claim up to ``params["limit"]`` flow jobs and take their rate tokens, in one
    transaction behind the flow lock (``lock_flow_claims``)."""
    async with db.transaction() as cur:
        await cur.execute(QUERIES["lock_flow_claims"])
        await cur.execute(QUERIES["claim_flow_jobs"], {"queues": None, **params})
        rows = await cur.fetchall()
        rated = [row["id"] for row in rows if row["rate_key"] is not None]
        if rated:
            await cur.execute(QUERIES["take_rate_tokens"], {"ids": rated, "now": params["now"]})
        return rows
