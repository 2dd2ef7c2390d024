-- Named queries of the PostgreSQL store. Parameters are psycopg's %(name)s; time always
-- arrives as a parameter so that tests can freeze it. Batch inputs arrive as one array
-- parameter per column (unnest) or as one JSON array (jsonb_to_recordset): one round
-- trip whatever the batch size.

-- name: begin_migration
-- Serialise concurrent `conveyor migrate` runs for the rest of this transaction.
SELECT pg_advisory_xact_lock(7164002315);

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS conveyor_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version FROM conveyor_migrations ORDER BY version;

-- name: record_migration
INSERT INTO conveyor_migrations (version, name) VALUES (%(version)s, %(name)s);

-- name: migrations_table_exists
-- Asked before schema_version: a statement naming a missing table fails to prepare.
SELECT to_regclass('conveyor_migrations') IS NOT NULL AS present;

-- name: schema_version
SELECT coalesce(max(version), 0) AS version FROM conveyor_migrations;

-- name: insert_jobs
-- Insert a batch in input order (identity values follow it). %(rows)s holds each job's
-- payload and only the columns that differ between jobs; a column every job shares comes
-- once, as %(shared_<column>)s (store/insert.py). A job whose idempotency key is already
-- held is skipped here and fetched by select_existing_jobs. What was inserted comes
-- back as arrays in one row (conveyor.store.insert.inserted). One NOTIFY per queue that
-- received runnable jobs wakes idle workers; PostgreSQL delivers it at commit (so a
-- transactional enqueue that rolls back wakes nobody) and folds duplicates.
WITH inserted AS (
    INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                               created_at, idempotency_key, timeout_seconds, rerun_of,
                               concurrency_key, concurrency_limit, rate_key, rate_per_second,
                               rate_burst, fairness_key, traceparent)
    SELECT coalesce(x.task, %(shared_task)s::text),
           coalesce(x.queue, %(shared_queue)s::text),
           coalesce(x.state, %(shared_state)s::text),
           x.payload,
           coalesce(x.priority, %(shared_priority)s::integer),
           coalesce(x.max_attempts, %(shared_max_attempts)s::integer),
           coalesce(x.run_at, %(shared_run_at)s::timestamptz),
           %(now)s,
           coalesce(x.idempotency_key, %(shared_idempotency_key)s::text),
           coalesce(x.timeout_seconds, %(shared_timeout_seconds)s::double precision),
           coalesce(x.rerun_of, %(shared_rerun_of)s::bigint),
           coalesce(x.concurrency_key, %(shared_concurrency_key)s::text),
           coalesce(x.concurrency_limit, %(shared_concurrency_limit)s::integer),
           coalesce(x.rate_key, %(shared_rate_key)s::text),
           coalesce(x.rate_per_second, %(shared_rate_per_second)s::double precision),
           coalesce(x.rate_burst, %(shared_rate_burst)s::double precision),
           coalesce(x.fairness_key, %(shared_fairness_key)s::text),
           coalesce(x.traceparent, %(shared_traceparent)s::text)
    FROM ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb) AS (
        payload jsonb, task text, queue text, state text, priority integer,
        max_attempts integer, run_at timestamptz, idempotency_key text,
        timeout_seconds double precision, rerun_of bigint, concurrency_key text,
        concurrency_limit integer, rate_key text, rate_per_second double precision,
        rate_burst double precision, fairness_key text, traceparent text)
    ) WITH ORDINALITY AS x(payload, task, queue, state, priority, max_attempts, run_at,
                           idempotency_key, timeout_seconds, rerun_of, concurrency_key,
                           concurrency_limit, rate_key, rate_per_second, rate_burst,
                           fairness_key, traceparent, ord)
    ORDER BY x.ord
    ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, task, idempotency_key, queue, state
), counted AS (
    -- The jobs just inserted, counted in this transaction: appended, never updated in
    -- place, so that no enqueue waits on another's lock (migration 0018).
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT task, queue, count(*) FROM inserted GROUP BY task, queue
), notified AS (
    SELECT pg_notify('conveyor_jobs', queues.queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS queues
)
SELECT array_agg(id ORDER BY id) AS ids, array_agg(task ORDER BY id) AS tasks,
       array_agg(idempotency_key ORDER BY id) AS idempotency_keys,
       (SELECT count(*) FROM notified) AS notified
FROM inserted;

-- name: insert_unkeyed_jobs
-- insert_jobs for a batch in which no job has an idempotency key: no ON CONFLICT, whose
-- speculative insertion (a token, an arbiter index probe and a confirming WAL record per
-- row) costs backend CPU for every job, and only the ids come back.
WITH inserted AS (
    INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                               created_at, idempotency_key, timeout_seconds, rerun_of,
                               concurrency_key, concurrency_limit, rate_key, rate_per_second,
                               rate_burst, fairness_key, traceparent)
    SELECT coalesce(x.task, %(shared_task)s::text),
           coalesce(x.queue, %(shared_queue)s::text),
           coalesce(x.state, %(shared_state)s::text),
           x.payload,
           coalesce(x.priority, %(shared_priority)s::integer),
           coalesce(x.max_attempts, %(shared_max_attempts)s::integer),
           coalesce(x.run_at, %(shared_run_at)s::timestamptz),
           %(now)s,
           coalesce(x.idempotency_key, %(shared_idempotency_key)s::text),
           coalesce(x.timeout_seconds, %(shared_timeout_seconds)s::double precision),
           coalesce(x.rerun_of, %(shared_rerun_of)s::bigint),
           coalesce(x.concurrency_key, %(shared_concurrency_key)s::text),
           coalesce(x.concurrency_limit, %(shared_concurrency_limit)s::integer),
           coalesce(x.rate_key, %(shared_rate_key)s::text),
           coalesce(x.rate_per_second, %(shared_rate_per_second)s::double precision),
           coalesce(x.rate_burst, %(shared_rate_burst)s::double precision),
           coalesce(x.fairness_key, %(shared_fairness_key)s::text),
           coalesce(x.traceparent, %(shared_traceparent)s::text)
    FROM ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb) AS (
        payload jsonb, task text, queue text, state text, priority integer,
        max_attempts integer, run_at timestamptz, idempotency_key text,
        timeout_seconds double precision, rerun_of bigint, concurrency_key text,
        concurrency_limit integer, rate_key text, rate_per_second double precision,
        rate_burst double precision, fairness_key text, traceparent text)
    ) WITH ORDINALITY AS x(payload, task, queue, state, priority, max_attempts, run_at,
                           idempotency_key, timeout_seconds, rerun_of, concurrency_key,
                           concurrency_limit, rate_key, rate_per_second, rate_burst,
                           fairness_key, traceparent, ord)
    ORDER BY x.ord
    RETURNING id, task, queue, state
), counted AS (
    -- The jobs just inserted, counted in this transaction: appended, never updated in
    -- place, so that no enqueue waits on another's lock (migration 0018).
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT task, queue, count(*) FROM inserted GROUP BY task, queue
), notified AS (
    SELECT pg_notify('conveyor_jobs', queues.queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS queues
)
SELECT array_agg(id ORDER BY id) AS ids, (SELECT count(*) FROM notified) AS notified
FROM inserted;

-- name: select_existing_jobs
-- The jobs that hold the given (task, idempotency_key) pairs. Runs as its own statement
-- so that it sees a conflicting row committed by a concurrent enqueue.
SELECT j.* FROM conveyor_jobs j
JOIN jsonb_to_recordset(%(keys)s::jsonb) AS k(task text, key text)
  ON j.task = k.task AND j.idempotency_key = k.key;

-- name: claim_jobs
-- Claim up to %(limit)s due jobs of the given queues in priority order, stamping a fresh
-- lease token. Each listed queue that is not paused is read in claim order from
-- conveyor_jobs_claim_idx, at most %(limit)s rows each, and the best %(limit)s of those
-- win: the cost follows the limit and the number of queues, never the backlog, whatever
-- the planner guesses (one walk of the index for a list of queues would need a sort of
-- every due job of those queues, or a walk past every other queue's jobs). The CTE is an
-- optimisation fence: without it the planner may lock more rows than it returns. SKIP
-- LOCKED lets concurrent claimers pass each other instead of queueing; candidates locked
-- here but not among the best are unlocked again when the statement commits. The columns
-- the claim set itself (state, started_at, the lease expiry, worker_id) are not read back:
-- the store knows them (rows.ClaimStamp), and decoding them would cost the worker time.
-- Without %(now)s the database's clock decides what is due and when leases end; the claim's
-- first row then carries that time (database_now) for the stamp, the others NULL. The
-- clock is statement_timestamp(), not now(): inside a transaction (the flow claim's, after
-- its lock wait) now() is the transaction's start, and a lease counted from it is short.
WITH candidates AS (
    SELECT c.id, c.priority, c.run_at
    FROM unnest(%(queues)s::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM conveyor_jobs
        WHERE queue = q.name
          AND state IN ('available', 'scheduled', 'retrying')
          AND run_at <= coalesce(%(now)s::timestamptz, statement_timestamp())
          AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
        ORDER BY priority, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) c
    WHERE q.name NOT IN (SELECT name FROM conveyor_queues WHERE paused)
), picked AS (
    SELECT id FROM candidates ORDER BY priority, run_at, id LIMIT %(limit)s
)
UPDATE conveyor_jobs j
SET state = 'running', attempt = j.attempt + 1,
    started_at = coalesce(%(now)s::timestamptz, statement_timestamp()),
    lease_token = gen_random_uuid(),
    lease_expires_at = coalesce(%(expires_at)s, statement_timestamp() + %(lease_ttl)s::interval),
    worker_id = %(worker_id)s
FROM picked WHERE j.id = picked.id
RETURNING j.id, j.task, j.queue, j.payload, j.priority, j.attempt, j.max_attempts, j.run_at,
          j.created_at, j.progress_done, j.progress_total, j.result, j.errors, j.checkpoint,
          j.idempotency_key, j.rerun_of, j.timeout_seconds, j.lease_token::text AS lease_token,
          j.batch_id, j.concurrency_key, j.concurrency_limit, j.rate_key, j.fairness_key,
          j.schedule_name, j.schedule_fire_at, j.schedule_tenant, j.traceparent,
          CASE WHEN %(now)s::timestamptz IS NULL AND j.id = (SELECT min(id) FROM picked)
               THEN j.started_at END AS database_now;

-- name: claim_jobs_any_queue
-- As claim_jobs, for a worker that serves every queue. The paused queues are read once
-- per statement (NOT IN, as above); their due jobs are filtered out as the index is walked.
WITH picked AS (
    SELECT id FROM conveyor_jobs
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND run_at <= coalesce(%(now)s::timestamptz, statement_timestamp())
      AND queue NOT IN (SELECT name FROM conveyor_queues WHERE paused)
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE conveyor_jobs j
SET state = 'running', attempt = j.attempt + 1,
    started_at = coalesce(%(now)s::timestamptz, statement_timestamp()),
    lease_token = gen_random_uuid(),
    lease_expires_at = coalesce(%(expires_at)s, statement_timestamp() + %(lease_ttl)s::interval),
    worker_id = %(worker_id)s
FROM picked WHERE j.id = picked.id
RETURNING j.id, j.task, j.queue, j.payload, j.priority, j.attempt, j.max_attempts, j.run_at,
          j.created_at, j.progress_done, j.progress_total, j.result, j.errors, j.checkpoint,
          j.idempotency_key, j.rerun_of, j.timeout_seconds, j.lease_token::text AS lease_token,
          j.batch_id, j.concurrency_key, j.concurrency_limit, j.rate_key, j.fairness_key,
          j.schedule_name, j.schedule_fire_at, j.schedule_tenant, j.traceparent,
          CASE WHEN %(now)s::timestamptz IS NULL AND j.id = (SELECT min(id) FROM picked)
               THEN j.started_at END AS database_now;

-- name: flow_jobs_waiting
-- Whether any flow job waits at all: one step into conveyor_jobs_flow_group_idx (the
-- ORDER BY names its key, so on the claim connections, where sorts are priced out, the
-- index is the only plan even without statistics). Lets a plain claim skip the flow
-- claim's locked transaction when there is nothing for it to do.
SELECT 1 AS waiting FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'retrying')
  AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL)
ORDER BY (ARRAY[queue, concurrency_key, rate_key, fairness_key])
LIMIT 1;

-- name: complete_jobs
-- Fenced: only a running job whose lease token matches is completed. The batch's ids and
-- tokens arrive as one comma-separated text each (store.fenced: psycopg dumps a list in
-- Python, element by element, and that was a fifth of an ack's client time), the results
-- as an array that is empty when no job returned anything (unnest pads it with NULLs).
-- The fence is the token alone (a job holds one if and only if it is running,
-- conveyor_jobs_lease_iff_running): a test of state = 'running' here would also match
-- conveyor_jobs_lease_idx, and a planner that believes few jobs run (stale statistics, as
-- in any burst) then reads every running job and every dead index entry a drain left
-- behind, instead of one primary-key lookup per ack. The completed ids come back as one
-- array in one row.
WITH done AS (
    UPDATE conveyor_jobs j
    SET state = 'completed', finished_at = %(now)s, result = x.result,
        lease_token = NULL, lease_expires_at = NULL
    FROM unnest(string_to_array(%(ids)s, ',')::bigint[], string_to_array(%(tokens)s, ','),
                %(results)b::jsonb[]) AS x(id, token, result)
    WHERE j.id = x.id AND j.lease_token::text = x.token
    RETURNING j.id
)
SELECT array_agg(id) AS ids FROM done;

-- name: fail_jobs
-- Fenced as complete_jobs, and its ids and tokens arrive and leave as there. With a retry
-- time and attempts left the job waits in 'retrying'; otherwise it is 'failed' for good.
-- The error is appended either way, stamped with the attempt's start from the row.
WITH done AS (
    UPDATE conveyor_jobs j
    SET state = CASE WHEN x.retry_at IS NOT NULL AND j.attempt < j.max_attempts
                     THEN 'retrying' ELSE 'failed' END,
        run_at = CASE WHEN x.retry_at IS NOT NULL AND j.attempt < j.max_attempts
                      THEN x.retry_at ELSE j.run_at END,
        finished_at = CASE WHEN x.retry_at IS NOT NULL AND j.attempt < j.max_attempts
                           THEN NULL ELSE %(now)s END,
        errors = j.errors || jsonb_build_array(x.error || jsonb_build_object('started_at',
            to_char(j.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))),
        lease_token = NULL, lease_expires_at = NULL
    FROM unnest(string_to_array(%(ids)s, ',')::bigint[], string_to_array(%(tokens)s, ','),
                %(errors)b::jsonb[], %(retry_ats)b::timestamptz[]) AS x(id, token, error, retry_at)
    WHERE j.id = x.id AND j.lease_token::text = x.token
    RETURNING j.id
)
SELECT array_agg(id) AS ids FROM done;

-- name: extend_leases
-- Fenced heartbeat for many jobs at once (as complete_jobs); returns the ids whose lease
-- is still held. Without %(expires_at)s the lease runs %(ttl)s from the database's clock.
WITH held AS (
    UPDATE conveyor_jobs j
    SET lease_expires_at = coalesce(%(expires_at)s, statement_timestamp() + %(ttl)s::interval)
    FROM unnest(string_to_array(%(ids)s, ',')::bigint[], string_to_array(%(tokens)s, ','))
         AS x(id, token)
    WHERE j.id = x.id AND j.lease_token::text = x.token
    RETURNING j.id
)
SELECT array_agg(id) AS ids FROM held;

-- name: release_jobs
-- Graceful shutdown: hand held jobs back at once, without counting the attempt. Fenced as
-- complete_jobs.
WITH released AS (
    UPDATE conveyor_jobs j
    SET state = 'available', attempt = greatest(j.attempt - 1, 0), run_at = %(now)s,
        started_at = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM unnest(string_to_array(%(ids)s, ',')::bigint[], string_to_array(%(tokens)s, ','))
         AS x(id, token)
    WHERE j.id = x.id AND j.lease_token::text = x.token
    RETURNING j.id
)
SELECT array_agg(id) AS ids FROM released;

-- name: rescue_expired
-- Running jobs whose worker stopped heart-beating go back to the queue, or to 'failed'
-- when that was their last attempt. SKIP LOCKED lets several rescuers run at once.
-- Without %(now)s, expired by the database's clock: workers' clocks may disagree.
WITH expired AS (
    SELECT id FROM conveyor_jobs
    WHERE state = 'running'
      AND lease_expires_at < coalesce(%(now)s::timestamptz, statement_timestamp())
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE conveyor_jobs j
SET state = CASE WHEN j.attempt < j.max_attempts THEN 'available' ELSE 'failed' END,
    finished_at = CASE WHEN j.attempt < j.max_attempts THEN NULL
                       ELSE coalesce(%(now)s::timestamptz, statement_timestamp()) END,
    run_at = coalesce(%(now)s::timestamptz, statement_timestamp()),
    errors = j.errors || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempt, 'type', 'LeaseExpired',
        'message', 'lease expired: worker ' || coalesce(j.worker_id, '?')
                   || ' stopped heart-beating',
        'traceback', '', 'at', coalesce(%(now_text)s::text,
            to_char(statement_timestamp() AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
        'started_at', to_char(j.started_at AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))),
    lease_token = NULL, lease_expires_at = NULL
FROM expired WHERE j.id = expired.id
RETURNING j.id;

-- name: hold_lease
-- Inside a handler's transaction: lock the job row until commit and confirm the lease is
-- still held. The rescuer's SKIP LOCKED passes the row by; a cancel waits for the commit.
UPDATE conveyor_jobs SET lease_expires_at = lease_expires_at
WHERE id = %(id)s AND lease_token::text = %(token)s AND state = 'running'
RETURNING id;

-- name: save_progress
UPDATE conveyor_jobs SET progress_done = %(done)s, progress_total = %(total)s
WHERE id = %(id)s AND lease_token::text = %(token)s AND state = 'running'
RETURNING id;

-- name: save_checkpoint
UPDATE conveyor_jobs SET checkpoint = %(checkpoint)s::jsonb
WHERE id = %(id)s AND lease_token::text = %(token)s AND state = 'running'
RETURNING id;

-- name: get_job
SELECT * FROM conveyor_jobs WHERE id = %(id)s;

-- name: list_jobs
-- Keyset pagination, newest first: %(after)s is the last id of the previous page. The
-- store never prepares it: planned with the values at hand, a state list that names
-- neither 'running' nor 'completed' reads conveyor_jobs_state_idx (partial, migration
-- 0010), which a plan made for any value could not use.
SELECT * FROM conveyor_jobs
WHERE (%(after)s::bigint IS NULL OR id < %(after)s::bigint)
  AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
  AND (%(tasks)s::text[] IS NULL OR task = ANY(%(tasks)s::text[]))
  AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
  AND (%(idempotency_key)s::text IS NULL OR idempotency_key = %(idempotency_key)s::text)
  AND (%(created_after)s::timestamptz IS NULL OR created_at >= %(created_after)s::timestamptz)
  AND (%(created_before)s::timestamptz IS NULL OR created_at < %(created_before)s::timestamptz)
  AND (%(finished_after)s::timestamptz IS NULL OR finished_at >= %(finished_after)s::timestamptz)
  AND (%(finished_before)s::timestamptz IS NULL
       OR finished_at < %(finished_before)s::timestamptz)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: cancel_jobs
UPDATE conveyor_jobs
SET state = 'cancelled', finished_at = %(now)s, lease_token = NULL, lease_expires_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND state NOT IN ('completed', 'failed', 'cancelled')
RETURNING *;

-- name: retry_jobs
-- An explicit retry grants one more attempt to a job that had used them all.
UPDATE conveyor_jobs
SET state = 'available', run_at = %(now)s, finished_at = NULL,
    max_attempts = greatest(max_attempts, attempt + 1)
WHERE id = ANY(%(ids)s::bigint[]) AND state IN ('failed', 'cancelled')
RETURNING *;

-- name: retry_failed
-- Bulk retry of failed jobs by filter (same conditions as list_jobs).
UPDATE conveyor_jobs
SET state = 'available', run_at = %(now)s, finished_at = NULL,
    max_attempts = greatest(max_attempts, attempt + 1)
WHERE state = 'failed'
  AND (%(tasks)s::text[] IS NULL OR task = ANY(%(tasks)s::text[]))
  AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
  AND (%(idempotency_key)s::text IS NULL OR idempotency_key = %(idempotency_key)s::text)
  AND (%(created_after)s::timestamptz IS NULL OR created_at >= %(created_after)s::timestamptz)
  AND (%(created_before)s::timestamptz IS NULL OR created_at < %(created_before)s::timestamptz)
  AND (%(finished_after)s::timestamptz IS NULL OR finished_at >= %(finished_after)s::timestamptz)
  AND (%(finished_before)s::timestamptz IS NULL
       OR finished_at < %(finished_before)s::timestamptz);

-- name: rerun_job
-- Clone a final job into a new one; the clone carries no idempotency key (the original
-- keeps it) and starts with a clean attempt count. It counts as enqueued (migration 0018).
WITH inserted AS (
    INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                               created_at, timeout_seconds, rerun_of, concurrency_key,
                               concurrency_limit, rate_key, rate_per_second, rate_burst,
                               fairness_key)
    SELECT task, queue, 'available', payload, priority, max_attempts, %(now)s, %(now)s,
           timeout_seconds, id, concurrency_key, concurrency_limit, rate_key, rate_per_second,
           rate_burst, fairness_key
    FROM conveyor_jobs
    WHERE id = %(id)s AND state IN ('completed', 'failed', 'cancelled')
    RETURNING *
), counted AS (
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT task, queue, count(*) FROM inserted GROUP BY task, queue
)
SELECT * FROM inserted;

-- name: enqueue_tallies
-- Jobs ever enqueued, by task and queue: the appended counts summed (migration 0018).
-- Maintenance folds them (compact_enqueue_tally), so the table stays small.
SELECT task, queue, sum(count) AS count FROM conveyor_enqueue_tally
GROUP BY task, queue ORDER BY task, queue;

-- name: compact_enqueue_tally
-- One row per (task, queue) in place of the rows the inserts appended. Rows of a
-- transaction not yet committed are not seen, and are folded next time; a second folder
-- running at once waits for this one's deleted rows and then skips them, so nothing is
-- counted twice. Returns how many rows it folded.
WITH moved AS (
    DELETE FROM conveyor_enqueue_tally RETURNING task, queue, count
), folded AS (
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT task, queue, sum(count) FROM moved GROUP BY task, queue
)
SELECT count(*) AS moved FROM moved;

-- name: count_jobs
SELECT queue, state, count(*) AS count FROM conveyor_jobs GROUP BY queue, state;

-- name: prune_finished
-- Small batches keep each delete short; SKIP LOCKED keeps two pruners out of each other's way.
DELETE FROM conveyor_jobs WHERE id IN (
    SELECT id FROM conveyor_jobs
    WHERE finished_at < %(before)s
    ORDER BY finished_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
);

-- name: register_worker
INSERT INTO conveyor_workers (id, host, pid, queues, concurrency, state, started_at,
                              last_heartbeat_at)
VALUES (%(id)s, %(host)s, %(pid)s, %(queues)s::jsonb, %(concurrency)s, 'running', %(now)s,
        %(now)s)
ON CONFLICT (id) DO UPDATE SET state = 'running', last_heartbeat_at = %(now)s,
                               stopped_at = NULL;

-- name: heartbeat_worker
-- Also revives a worker wrongly marked dead (a long pause): it is evidently alive.
UPDATE conveyor_workers
SET last_heartbeat_at = %(now)s, executors = %(executors)s, running = %(running)s,
    completed = %(completed)s, state = %(state)s, metrics = COALESCE(%(metrics)s, metrics),
    stopped_at = CASE WHEN %(state)s = 'stopped' THEN %(now)s ELSE NULL END
WHERE id = %(id)s;

-- name: list_workers
SELECT * FROM conveyor_workers ORDER BY started_at DESC, id LIMIT %(limit)s;

-- name: mark_dead_workers
UPDATE conveyor_workers SET state = 'dead', stopped_at = %(now)s
WHERE state IN ('running', 'stopping') AND last_heartbeat_at < %(before)s
RETURNING id;

-- name: finished_per_minute
-- Throughput: jobs that reached a final state per minute since %(since)s (uses the
-- finished_at partial index).
SELECT date_trunc('minute', finished_at) AS minute, state, count(*) AS count
FROM conveyor_jobs
WHERE finished_at >= %(since)s
GROUP BY 1, 2
ORDER BY 1;

-- name: oldest_waiting
-- The longest-waiting due job: how far behind the workers are.
SELECT min(run_at) AS run_at FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'retrying') AND run_at <= %(now)s;

-- name: notify_queues
-- Wake every listening worker of the given queues now (the admin "sweep").
SELECT pg_notify('conveyor_jobs', q) FROM unnest(%(queues)s::text[]) AS q;

-- name: record_items
-- Upsert item outcomes in one statement. 'done' is final: a later attempt that records the
-- same item again (it should have skipped it) cannot turn a done item into a failed one.
-- The batch holds each (ledger, key) once: ON CONFLICT may not touch a row twice.
INSERT INTO conveyor_items AS i (ledger, item_key, outcome, reason, job_id, attempt,
                                 recorded_at)
SELECT x.ledger, x.key, x.outcome, x.reason, x.job_id, x.attempt, %(now)s
FROM jsonb_to_recordset(%(items)s::jsonb) AS x(
    ledger text, key text, outcome text, reason text, job_id bigint, attempt integer)
ON CONFLICT (ledger, item_key) DO UPDATE
SET outcome = excluded.outcome, reason = excluded.reason, job_id = excluded.job_id,
    attempt = excluded.attempt, recorded_at = excluded.recorded_at
WHERE i.outcome <> 'done';

-- name: done_item_keys
-- The keys already done in a ledger; %(keys)s NULL asks for all of them.
SELECT item_key FROM conveyor_items
WHERE ledger = %(ledger)s AND outcome = 'done'
  AND (%(keys)s::text[] IS NULL OR item_key = ANY(%(keys)s::text[]));

-- name: count_items
SELECT outcome, count(*) AS count FROM conveyor_items
WHERE ledger = %(ledger)s GROUP BY outcome;

-- name: list_items
-- Keyset pages in key order: %(after)s is the last key of the previous page.
SELECT * FROM conveyor_items
WHERE ledger = %(ledger)s
  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s::text)
  AND (%(after)s::text IS NULL OR item_key > %(after)s::text)
ORDER BY item_key
LIMIT %(limit)s;

-- name: insert_batch
-- A batch and all its children in one statement. A taken batch idempotency key inserts
-- nothing (batch_id comes back NULL): the caller then reads the batch that holds it.
WITH batch AS (
    INSERT INTO conveyor_batches (parent_id, idempotency_key, total, pending, callback_task,
                                  callback_queue, callback_payload, callback_priority,
                                  callback_max_attempts, callback_timeout_seconds, created_at)
    VALUES (%(parent_id)s, %(idempotency_key)s, %(total)s, %(total)s, %(callback_task)s,
            %(callback_queue)s, %(callback_payload)s::jsonb, %(callback_priority)s,
            %(callback_max_attempts)s, %(callback_timeout_seconds)s, %(now)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), inserted AS (
    INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                               created_at, timeout_seconds, batch_id, concurrency_key,
                               concurrency_limit, rate_key, rate_per_second, rate_burst,
                               fairness_key)
    SELECT coalesce(x.task, %(shared_task)s::text),
           coalesce(x.queue, %(shared_queue)s::text),
           coalesce(x.state, %(shared_state)s::text),
           x.payload,
           coalesce(x.priority, %(shared_priority)s::integer),
           coalesce(x.max_attempts, %(shared_max_attempts)s::integer),
           coalesce(x.run_at, %(shared_run_at)s::timestamptz),
           %(now)s,
           coalesce(x.timeout_seconds, %(shared_timeout_seconds)s::double precision),
           batch.id,
           coalesce(x.concurrency_key, %(shared_concurrency_key)s::text),
           coalesce(x.concurrency_limit, %(shared_concurrency_limit)s::integer),
           coalesce(x.rate_key, %(shared_rate_key)s::text),
           coalesce(x.rate_per_second, %(shared_rate_per_second)s::double precision),
           coalesce(x.rate_burst, %(shared_rate_burst)s::double precision),
           coalesce(x.fairness_key, %(shared_fairness_key)s::text)
    FROM batch, ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb) AS (
        payload jsonb, task text, queue text, state text, priority integer,
        max_attempts integer, run_at timestamptz, timeout_seconds double precision,
        concurrency_key text, concurrency_limit integer, rate_key text,
        rate_per_second double precision, rate_burst double precision, fairness_key text)
    ) WITH ORDINALITY AS x(payload, task, queue, state, priority, max_attempts, run_at,
                           timeout_seconds, concurrency_key, concurrency_limit, rate_key,
                           rate_per_second, rate_burst, fairness_key, ord)
    ORDER BY x.ord
    RETURNING task, queue, state
), counted AS (
    -- The jobs just inserted, counted in this transaction: appended, never updated in
    -- place, so that no enqueue waits on another's lock (migration 0018).
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT task, queue, count(*) FROM inserted GROUP BY task, queue
), notified AS (
    SELECT pg_notify('conveyor_jobs', queues.queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS queues
)
SELECT (SELECT id FROM batch) AS batch_id, (SELECT count(*) FROM inserted) AS inserted,
       (SELECT count(*) FROM notified) AS notified;

-- name: get_batch
SELECT * FROM conveyor_batches WHERE id = %(id)s;

-- name: get_batch_by_key
SELECT * FROM conveyor_batches WHERE idempotency_key = %(idempotency_key)s;

-- name: list_batches
-- Every batch, newest first; %(after)s is the last id of the previous page. With
-- %(unfinished)s only the batches that still have pending children.
SELECT * FROM conveyor_batches
WHERE (%(after)s::bigint IS NULL OR id < %(after)s::bigint)
  AND (NOT %(unfinished)s::boolean OR finished_at IS NULL)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: list_batches_of_parent
SELECT * FROM conveyor_batches WHERE parent_id = %(parent_id)s ORDER BY id;

-- name: list_batch_jobs
-- A batch's children in id (creation) order; %(after)s is the last id of the previous page.
SELECT * FROM conveyor_jobs
WHERE batch_id = %(batch_id)s
  AND (%(after)s::bigint IS NULL OR id > %(after)s::bigint)
  AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
ORDER BY id
LIMIT %(limit)s;

-- name: cancel_batch
-- Cancel every unfinished child; the batch trigger counts them (and may enqueue the
-- callback, which then reports them as cancelled).
UPDATE conveyor_jobs
SET state = 'cancelled', finished_at = %(now)s, lease_token = NULL, lease_expires_at = NULL
WHERE batch_id = %(batch_id)s AND state NOT IN ('completed', 'failed', 'cancelled')
RETURNING id;

-- ---------------------------------------------------------------------------------------
-- Schedules (conveyor.scheduler): definitions, fires, and the jobs fires enqueue.

-- name: save_schedule
-- Upsert a code-declared schedule. The state survives: paused, fires, created_at; the
-- interval grid (anchor_at) too while `every` is unchanged. updated_at, the lower bound
-- of the fires a scheduler still owes, moves only when the rule itself changed, so a
-- restart does not forget the fires missed while everything was down.
INSERT INTO conveyor_schedules (name, task, cron, timezone, every_seconds, anchor_at, payload,
                                queue, priority, catch_up, allow_overlap, run_on_startup,
                                per_tenant, source, created_at, updated_at)
VALUES (%(name)s, %(task)s, %(cron)s, %(timezone)s, %(every_seconds)s, %(anchor_at)s,
        %(payload)s::jsonb, %(queue)s, %(priority)s, %(catch_up)s, %(allow_overlap)s,
        %(run_on_startup)s, %(per_tenant)s, %(source)s, %(now)s, %(now)s)
ON CONFLICT (name) DO UPDATE SET
    task = excluded.task, cron = excluded.cron, timezone = excluded.timezone,
    every_seconds = excluded.every_seconds,
    anchor_at = CASE WHEN conveyor_schedules.every_seconds = excluded.every_seconds
                     THEN conveyor_schedules.anchor_at ELSE excluded.anchor_at END,
    payload = excluded.payload, queue = excluded.queue, priority = excluded.priority,
    catch_up = excluded.catch_up, allow_overlap = excluded.allow_overlap,
    run_on_startup = excluded.run_on_startup, per_tenant = excluded.per_tenant,
    source = excluded.source,
    updated_at = CASE
        WHEN (conveyor_schedules.task, conveyor_schedules.cron, conveyor_schedules.timezone,
              conveyor_schedules.every_seconds)
             IS NOT DISTINCT FROM (excluded.task, excluded.cron, excluded.timezone,
                                   excluded.every_seconds)
        THEN conveyor_schedules.updated_at ELSE excluded.updated_at END;

-- name: create_schedule
-- A runtime schedule; nothing is inserted when the name is taken (the caller reports it).
INSERT INTO conveyor_schedules (name, task, cron, timezone, every_seconds, anchor_at, payload,
                                queue, priority, catch_up, allow_overlap, run_on_startup,
                                per_tenant, source, created_at, updated_at)
VALUES (%(name)s, %(task)s, %(cron)s, %(timezone)s, %(every_seconds)s, %(anchor_at)s,
        %(payload)s::jsonb, %(queue)s, %(priority)s, %(catch_up)s, %(allow_overlap)s,
        %(run_on_startup)s, %(per_tenant)s, %(source)s, %(now)s, %(now)s)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: update_schedule
-- Replace a schedule's definition; it starts afresh from now (updated_at), so a changed
-- rule does not owe fires from before the change.
UPDATE conveyor_schedules
SET task = %(task)s, cron = %(cron)s, timezone = %(timezone)s,
    every_seconds = %(every_seconds)s, anchor_at = %(anchor_at)s, payload = %(payload)s::jsonb,
    queue = %(queue)s, priority = %(priority)s, catch_up = %(catch_up)s,
    allow_overlap = %(allow_overlap)s, run_on_startup = %(run_on_startup)s,
    per_tenant = %(per_tenant)s, updated_at = %(now)s
WHERE name = %(name)s
RETURNING name;

-- name: set_schedule_paused
-- Pausing and resuming move updated_at too: a resumed schedule owes no fire from the pause.
UPDATE conveyor_schedules SET paused = %(paused)s, updated_at = %(now)s
WHERE name = %(name)s
RETURNING name;

-- name: delete_schedule_fires
DELETE FROM conveyor_schedule_fires WHERE schedule = ANY(%(names)s::text[]);

-- name: delete_schedules
DELETE FROM conveyor_schedules WHERE name = ANY(%(names)s::text[]);

-- name: list_schedules
-- Each schedule with its most recently enqueued fire and that job's state now (the
-- subqueries read conveyor_schedule_fires_last_idx backwards, one row per schedule).
SELECT t.*, j.state AS last_job_state
FROM (
    SELECT s.*,
           (SELECT f.fire_at FROM conveyor_schedule_fires f
            WHERE f.schedule = s.name AND f.outcome = 'enqueued'
            ORDER BY f.recorded_at DESC, f.fire_at DESC LIMIT 1) AS last_fire_at,
           (SELECT f.job_id FROM conveyor_schedule_fires f
            WHERE f.schedule = s.name AND f.outcome = 'enqueued'
            ORDER BY f.recorded_at DESC, f.fire_at DESC LIMIT 1) AS last_job_id
    FROM conveyor_schedules s
    WHERE %(name)s::text IS NULL OR s.name = %(name)s::text
) t
LEFT JOIN conveyor_jobs j ON j.id = t.last_job_id
ORDER BY t.name;

-- name: latest_fires
-- Each (schedule, tenant)'s cursor: the newest fire time of its rule that was decided.
SELECT schedule, tenant, fire_at FROM conveyor_schedule_cursors;

-- name: advance_cursor
-- Move a cursor forward (never back: fires may be decided out of order by two schedulers).
INSERT INTO conveyor_schedule_cursors (schedule, tenant, fire_at)
VALUES (%(schedule)s, %(tenant)s, %(fire_at)s)
ON CONFLICT (schedule, tenant) DO UPDATE
SET fire_at = greatest(conveyor_schedule_cursors.fire_at, excluded.fire_at);

-- name: delete_schedule_cursors
DELETE FROM conveyor_schedule_cursors WHERE schedule = ANY(%(names)s::text[]);

-- name: insert_fire
-- Claim one fire. The primary key makes this the cluster-wide "exactly once": a second
-- scheduler inserting the same fire waits for the first one's transaction, then finds
-- the row taken and gets no row back.
INSERT INTO conveyor_schedule_fires (schedule, tenant, kind, fire_at, outcome, recorded_at)
VALUES (%(schedule)s, %(tenant)s, %(kind)s, %(fire_at)s, %(outcome)s, %(now)s)
ON CONFLICT DO NOTHING
RETURNING fire_at;

-- name: unfinished_schedule_job
-- A job of this schedule (and tenant) that has not finished: the overlap check.
SELECT id FROM conveyor_jobs
WHERE schedule_name = %(schedule)s AND finished_at IS NULL
  AND coalesce(schedule_tenant, '') = %(tenant)s
LIMIT 1;

-- name: link_fired_job
-- Stamp a freshly enqueued job with the fire it came from.
UPDATE conveyor_jobs
SET schedule_name = %(schedule)s, schedule_fire_at = %(fire_at)s,
    schedule_tenant = %(job_tenant)s
WHERE id = %(id)s
RETURNING *;

-- name: set_fire_result
UPDATE conveyor_schedule_fires SET outcome = %(outcome)s, job_id = %(job_id)s
WHERE schedule = %(schedule)s AND tenant = %(tenant)s AND kind = %(kind)s
  AND fire_at = %(fire_at)s;

-- name: claim_startup_fire
-- Compare-and-set: of the schedulers starting within one window, one gets the row.
UPDATE conveyor_schedules SET startup_fired_at = %(now)s
WHERE name = %(name)s AND (startup_fired_at IS NULL OR startup_fired_at < %(since)s)
RETURNING name;

-- name: prune_fires
-- Forget fires recorded before %(before)s: the cursors keep where each rule is.
DELETE FROM conveyor_schedule_fires WHERE recorded_at < %(before)s;

-- name: lock_flow_claims
-- Flow claims (below) run one at a time across the cluster, each in a transaction that
-- takes this lock first: the claim's snapshot then sees every earlier flow claim, so the
-- running counts and bucket tokens it reads are exact. Plain claims never take it.
SELECT pg_advisory_xact_lock(7164002316);

-- name: claim_flow_jobs
-- Claim up to %(limit)s due flow jobs (migrations 0006 and 0009). flow_group walks the
-- distinct groups (queue, concurrency_key, rate_key, fairness_key) of waiting flow jobs
-- down conveyor_jobs_flow_group_idx, one index descent per group; candidate reads the
-- first %(limit)s due jobs of each group of a served, unpaused queue. No other job can be
-- taken: a group's k-th job ranks at least k-th within each of its keys, so it is admitted
-- only if the k-1 before it are, and they all come before it in the order below.
-- Each candidate is ranked within its concurrency key, its rate key and its fairness key;
-- a job is admitted while its rank fits the key's free running slots and the bucket's
-- whole tokens, and admitted jobs are taken round-robin across fairness keys (turn),
-- within priority. The ranks count candidates only, so a key never admits more than its
-- free slots or tokens. A job that is not admitted stays as it is: no attempt counted.
-- The state test in the UPDATE re-checks rows an admin changed since the snapshot; the
-- picked ids arrive as one array, so that the update looks each up by primary key even
-- when the planner, without statistics, expects many of them. Without %(now)s, as in
-- claim_jobs, each row carries the database's time (database_now).
WITH RECURSIVE flow_group AS (
    (SELECT ARRAY[queue, concurrency_key, rate_key, fairness_key] AS key
     FROM conveyor_jobs
     WHERE state IN ('available', 'scheduled', 'retrying')
       AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL)
     ORDER BY 1
     LIMIT 1)
    UNION ALL
    SELECT (SELECT ARRAY[queue, concurrency_key, rate_key, fairness_key]
            FROM conveyor_jobs
            WHERE state IN ('available', 'scheduled', 'retrying')
              AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL
                   OR fairness_key IS NOT NULL)
              AND ARRAY[queue, concurrency_key, rate_key, fairness_key] > g.key
            ORDER BY 1
            LIMIT 1)
    FROM flow_group g
    WHERE g.key IS NOT NULL
), candidate AS (
    SELECT c.* FROM flow_group g
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at, concurrency_key, concurrency_limit, rate_key,
               rate_per_second, rate_burst, fairness_key
        FROM conveyor_jobs
        WHERE ARRAY[queue, concurrency_key, rate_key, fairness_key] = g.key
          AND state IN ('available', 'scheduled', 'retrying')
          AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL)
          AND run_at <= coalesce(%(now)s::timestamptz, statement_timestamp())
        ORDER BY priority, run_at, id
        LIMIT %(limit)s
    ) c
    WHERE g.key IS NOT NULL
      AND (%(queues)s::text[] IS NULL OR g.key[1] = ANY(%(queues)s::text[]))
      AND g.key[1] <> ALL(ARRAY(SELECT name FROM conveyor_queues WHERE paused))
), eligible AS (
    SELECT id, priority, run_at, concurrency_key, concurrency_limit, rate_key,
           rate_per_second, rate_burst,
           row_number() OVER (PARTITION BY fairness_key ORDER BY priority, run_at, id) AS turn,
           row_number() OVER (PARTITION BY concurrency_key ORDER BY priority, run_at, id)
               AS key_rank,
           row_number() OVER (PARTITION BY rate_key ORDER BY priority, run_at, id) AS rate_rank
    FROM candidate
), running AS (
    -- Counted for the candidates' keys only, each down conveyor_jobs_running_key_idx.
    SELECT k.concurrency_key,
           (SELECT count(*) FROM conveyor_jobs r
            WHERE r.state = 'running' AND r.concurrency_key = k.concurrency_key) AS n
    FROM (SELECT DISTINCT concurrency_key FROM candidate
          WHERE concurrency_key IS NOT NULL) AS k
), picked AS (
    SELECT e.id FROM eligible e
    LEFT JOIN running r ON r.concurrency_key = e.concurrency_key
    LEFT JOIN conveyor_rate_buckets b ON b.key = e.rate_key
    WHERE (e.concurrency_key IS NULL OR e.key_rank + coalesce(r.n, 0) <= e.concurrency_limit)
      AND (e.rate_key IS NULL OR e.rate_rank <= floor(coalesce(least(
              e.rate_burst,
              b.tokens + greatest(extract(epoch FROM (
                  coalesce(%(now)s::timestamptz, statement_timestamp()) - b.updated_at)), 0)
                         * e.rate_per_second),
              e.rate_burst)))
    ORDER BY e.priority, e.turn, e.run_at, e.id
    LIMIT %(limit)s
)
UPDATE conveyor_jobs j
SET state = 'running', attempt = j.attempt + 1,
    started_at = coalesce(%(now)s::timestamptz, statement_timestamp()),
    lease_token = gen_random_uuid(),
    lease_expires_at = coalesce(%(expires_at)s, statement_timestamp() + %(lease_ttl)s::interval),
    worker_id = %(worker_id)s
WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
  AND j.state IN ('available', 'scheduled', 'retrying')
RETURNING j.id, j.task, j.queue, j.payload, j.priority, j.attempt, j.max_attempts, j.run_at,
          j.created_at, j.progress_done, j.progress_total, j.result, j.errors, j.checkpoint,
          j.idempotency_key, j.rerun_of, j.timeout_seconds, j.lease_token::text AS lease_token,
          j.batch_id, j.concurrency_key, j.concurrency_limit, j.rate_key, j.fairness_key,
          j.schedule_name, j.schedule_fire_at, j.schedule_tenant, j.traceparent,
          CASE WHEN %(now)s::timestamptz IS NULL THEN j.started_at END AS database_now;

-- name: take_rate_tokens
-- One token per claimed job of each rate key: refill the bucket for the time since its
-- last update (up to its burst), then take them. A new bucket starts full.
INSERT INTO conveyor_rate_buckets AS b (key, tokens, rate_per_second, burst, updated_at)
SELECT rate_key, max(rate_burst) - count(*), max(rate_per_second), max(rate_burst),
       coalesce(%(now)s::timestamptz, statement_timestamp())
FROM conveyor_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND rate_key IS NOT NULL
GROUP BY rate_key
ON CONFLICT (key) DO UPDATE
SET tokens = least(excluded.burst,
                   b.tokens + greatest(extract(epoch FROM (excluded.updated_at - b.updated_at)),
                                       0) * excluded.rate_per_second)
             - (excluded.burst - excluded.tokens),
    rate_per_second = excluded.rate_per_second, burst = excluded.burst,
    updated_at = greatest(b.updated_at, excluded.updated_at);

-- name: get_rate_bucket
SELECT * FROM conveyor_rate_buckets WHERE key = %(key)s;

-- name: running_with_key
-- The running jobs holding a concurrency key (what blocks a job waiting on it).
SELECT id FROM conveyor_jobs
WHERE state = 'running' AND concurrency_key = %(key)s
ORDER BY id;
-- name: pause_queue
-- Idempotent: pausing a paused queue keeps its first paused_at and returns no row.
INSERT INTO conveyor_queues (name, paused, paused_at, updated_at)
VALUES (%(queue)s, true, %(now)s, %(now)s)
ON CONFLICT (name) DO UPDATE SET paused = true, paused_at = %(now)s, updated_at = %(now)s
WHERE NOT conveyor_queues.paused
RETURNING name;

-- name: resume_queue
-- The NOTIFY (delivered at commit) wakes the queue's idle workers at once, as an enqueue
-- would: its jobs may have waited for a long time.
WITH resumed AS (
    UPDATE conveyor_queues SET paused = false, paused_at = NULL, updated_at = %(now)s
    WHERE name = %(queue)s AND paused
    RETURNING name
), notified AS (
    SELECT pg_notify('conveyor_jobs', name) FROM resumed
)
SELECT name, (SELECT count(*) FROM notified) AS notified FROM resumed;

-- name: list_queues
-- Every queue that holds unfinished or failed jobs, or has a row of its own (it was
-- paused once), with its counts and the run_at of its longest-waiting due job. The store
-- sorts by name itself, so that both dialects list in the same (code point) order.
-- Running jobs are read apart: conveyor_jobs_state_idx leaves them out (migration 0010)
-- and conveyor_jobs_lease_idx holds them, so neither part reads the finished history.
WITH counted AS (
    SELECT queue,
           count(*) FILTER (WHERE state = 'available') AS available,
           count(*) FILTER (WHERE state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE state = 'running') AS running,
           count(*) FILTER (WHERE state = 'retrying') AS retrying,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           min(run_at) FILTER (WHERE state IN ('available', 'scheduled', 'retrying')
                                 AND run_at <= %(now)s) AS oldest_waiting_run_at
    FROM (
        SELECT queue, state, run_at FROM conveyor_jobs
        WHERE state IN ('available', 'scheduled', 'retrying', 'failed')
        UNION ALL
        SELECT queue, state, run_at FROM conveyor_jobs WHERE state = 'running'
    ) AS unfinished
    GROUP BY queue
), names AS (
    SELECT queue AS name FROM counted UNION SELECT name FROM conveyor_queues
)
SELECT n.name, coalesce(q.paused, false) AS paused, q.paused_at,
       coalesce(c.available, 0) AS available, coalesce(c.scheduled, 0) AS scheduled,
       coalesce(c.running, 0) AS running, coalesce(c.retrying, 0) AS retrying,
       coalesce(c.failed, 0) AS failed, c.oldest_waiting_run_at
FROM names n
LEFT JOIN counted c ON c.queue = n.name
LEFT JOIN conveyor_queues q ON q.name = n.name;

-- name: queue_depths
-- Waiting jobs by queue and state through the state index (it leaves out running and
-- completed jobs), running ones through the lease index: the open jobs only, never the
-- history. oldest_due is the run_at of the longest-waiting job that could run now.
SELECT queue, state, count(*) AS count,
       min(CASE WHEN run_at <= %(now)s THEN run_at END) AS oldest_due
FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'retrying') AND state NOT IN ('running', 'completed')
GROUP BY queue, state
UNION ALL
SELECT queue, 'running' AS state, count(*) AS count, NULL AS oldest_due
FROM conveyor_jobs WHERE state = 'running'
GROUP BY queue;

-- name: worker_tallies
-- Every worker's last written figures, and the totals folded in from pruned workers.
SELECT metrics FROM conveyor_workers WHERE metrics IS NOT NULL
UNION ALL
SELECT metrics FROM conveyor_metric_totals;

-- name: prune_workers_returning
-- Forget stopped and dead workers, returning each pruned worker's figures for the totals row.
DELETE FROM conveyor_workers
WHERE state IN ('stopped', 'dead') AND stopped_at < %(before)s
RETURNING metrics;

-- name: metric_totals
SELECT metrics FROM conveyor_metric_totals WHERE id = 1 FOR UPDATE;

-- name: save_metric_totals
INSERT INTO conveyor_metric_totals (id, metrics) VALUES (1, %(metrics)s)
ON CONFLICT (id) DO UPDATE SET metrics = excluded.metrics;

-- name: occur_incident
-- Opens the incident (last_claim 'open': send the alert), or counts one more occurrence
-- ('folded'); once the digest window passed since the last message, moves sent_at on
-- ('digest': send a digest of `digested` occurrences). SET reads the row as it was before.
INSERT INTO conveyor_incidents (rule, subject, opened_at, sent_at, folded, digested, last_claim)
VALUES (%(rule)s, %(subject)s, %(now)s::double precision, %(now)s::double precision, 0, 0, 'open')
ON CONFLICT (rule, subject) DO UPDATE SET
    folded = CASE WHEN %(now)s::double precision - conveyor_incidents.sent_at >= %(window)s::double precision
        THEN 0 ELSE conveyor_incidents.folded + 1 END,
    digested = CASE WHEN %(now)s::double precision - conveyor_incidents.sent_at >= %(window)s::double precision
        THEN conveyor_incidents.folded + 1 ELSE conveyor_incidents.digested END,
    sent_at = CASE WHEN %(now)s::double precision - conveyor_incidents.sent_at >= %(window)s::double precision
        THEN %(now)s::double precision ELSE conveyor_incidents.sent_at END,
    last_claim = CASE WHEN %(now)s::double precision - conveyor_incidents.sent_at >= %(window)s::double precision
        THEN 'digest' ELSE 'folded' END
RETURNING last_claim, folded, digested;

-- name: flush_incident_digests
-- The incidents whose window passed with folded occurrences; each row goes to one caller.
UPDATE conveyor_incidents SET sent_at = %(now)s::double precision, digested = folded, folded = 0
WHERE folded > 0 AND %(now)s::double precision - sent_at >= %(window)s::double precision
RETURNING rule, subject, digested;

-- name: resolve_incident
DELETE FROM conveyor_incidents WHERE rule = %(rule)s AND subject = %(subject)s
RETURNING rule;

-- name: list_incidents
-- The open incidents (a handful of rows), for the rules that resolve when a condition clears.
SELECT rule, subject FROM conveyor_incidents ORDER BY rule, subject;
