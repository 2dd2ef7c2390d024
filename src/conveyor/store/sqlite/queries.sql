-- Named queries of the SQLite store. Parameters are sqlite3's :name. Times are UTC text of
-- fixed width (text order is time order) and always arrive as parameters. Batch inputs
-- arrive as one JSON array read with json_each, which is one statement whatever the size.

-- name: begin_migration
-- IMMEDIATE takes the write lock now, so two processes migrating at once serialise here.
BEGIN IMMEDIATE;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS conveyor_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- name: applied_migrations
SELECT version FROM conveyor_migrations ORDER BY version;

-- name: record_migration
INSERT INTO conveyor_migrations (version, name) VALUES (:version, :name);

-- name: migrations_table_exists
-- Asked before schema_version: a statement naming a missing table fails to prepare.
SELECT EXISTS (
    SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conveyor_migrations'
) AS present;

-- name: schema_version
SELECT coalesce(max(version), 0) AS version FROM conveyor_migrations;

-- name: insert_jobs
-- Insert a batch in input order (rowids follow it). :rows holds each job's payload and
-- only the columns that differ between jobs; a column every job shares comes once, as
-- :shared_<column> (store/insert.py). "WHERE true" is required by SQLite's parser between
-- an INSERT ... SELECT and its ON CONFLICT clause. Only what pairs rows with the request
-- comes back: the caller builds the jobs from its own.
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, idempotency_key, timeout_seconds, rerun_of,
                           concurrency_key, concurrency_limit, rate_key, rate_per_second,
                           rate_burst, fairness_key, traceparent)
SELECT coalesce(json_extract(value, '$.task'), :shared_task),
       coalesce(json_extract(value, '$.queue'), :shared_queue),
       coalesce(json_extract(value, '$.state'), :shared_state),
       json_extract(value, '$.payload'),
       coalesce(json_extract(value, '$.priority'), :shared_priority),
       coalesce(json_extract(value, '$.max_attempts'), :shared_max_attempts),
       coalesce(json_extract(value, '$.run_at'), :shared_run_at),
       :now,
       coalesce(json_extract(value, '$.idempotency_key'), :shared_idempotency_key),
       coalesce(json_extract(value, '$.timeout_seconds'), :shared_timeout_seconds),
       coalesce(json_extract(value, '$.rerun_of'), :shared_rerun_of),
       coalesce(json_extract(value, '$.concurrency_key'), :shared_concurrency_key),
       coalesce(json_extract(value, '$.concurrency_limit'), :shared_concurrency_limit),
       coalesce(json_extract(value, '$.rate_key'), :shared_rate_key),
       coalesce(json_extract(value, '$.rate_per_second'), :shared_rate_per_second),
       coalesce(json_extract(value, '$.rate_burst'), :shared_rate_burst),
       coalesce(json_extract(value, '$.fairness_key'), :shared_fairness_key),
       coalesce(json_extract(value, '$.traceparent'), :shared_traceparent)
FROM json_each(:rows)
WHERE true
ORDER BY key
ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id, task, idempotency_key;

-- name: insert_unkeyed_jobs
-- insert_jobs for a batch in which no job has an idempotency key: only the ids come back.
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, idempotency_key, timeout_seconds, rerun_of,
                           concurrency_key, concurrency_limit, rate_key, rate_per_second,
                           rate_burst, fairness_key, traceparent)
SELECT coalesce(json_extract(value, '$.task'), :shared_task),
       coalesce(json_extract(value, '$.queue'), :shared_queue),
       coalesce(json_extract(value, '$.state'), :shared_state),
       json_extract(value, '$.payload'),
       coalesce(json_extract(value, '$.priority'), :shared_priority),
       coalesce(json_extract(value, '$.max_attempts'), :shared_max_attempts),
       coalesce(json_extract(value, '$.run_at'), :shared_run_at),
       :now,
       coalesce(json_extract(value, '$.idempotency_key'), :shared_idempotency_key),
       coalesce(json_extract(value, '$.timeout_seconds'), :shared_timeout_seconds),
       coalesce(json_extract(value, '$.rerun_of'), :shared_rerun_of),
       coalesce(json_extract(value, '$.concurrency_key'), :shared_concurrency_key),
       coalesce(json_extract(value, '$.concurrency_limit'), :shared_concurrency_limit),
       coalesce(json_extract(value, '$.rate_key'), :shared_rate_key),
       coalesce(json_extract(value, '$.rate_per_second'), :shared_rate_per_second),
       coalesce(json_extract(value, '$.rate_burst'), :shared_rate_burst),
       coalesce(json_extract(value, '$.fairness_key'), :shared_fairness_key),
       coalesce(json_extract(value, '$.traceparent'), :shared_traceparent)
FROM json_each(:rows)
ORDER BY key
RETURNING id;

-- name: tally_enqueued
-- Count the jobs an insert just created, in its transaction (migration 0018). SQLite has
-- no data-modifying CTE to fold this into the insert, as PostgreSQL does; :counts is a
-- JSON array of {task, queue, count}, one per pair, from the rows the insert returned.
INSERT INTO conveyor_enqueue_tally AS t (task, queue, count)
SELECT json_extract(value, '$.task'), json_extract(value, '$.queue'),
       json_extract(value, '$.count')
FROM json_each(:counts)
WHERE true
ON CONFLICT (task, queue) DO UPDATE SET count = t.count + excluded.count;

-- name: select_existing_jobs
SELECT j.* FROM conveyor_jobs j
JOIN json_each(:keys) AS k
  ON j.task = json_extract(k.value, '$.task')
 AND j.idempotency_key = json_extract(k.value, '$.key');

-- name: claim_jobs
-- Claim up to :limit due jobs of the given queues in priority order, with a fresh lease
-- token. SQLite has one writer, so the subquery and the update cannot interleave with
-- another claimer: no SKIP LOCKED is needed. INDEXED BY pins the partial claim index: the
-- store never runs ANALYZE, and without statistics SQLite prefers conveyor_jobs_state_idx
-- and sorts every waiting job of every queue on each claim.
-- Paused queues are dropped from the queue list before the index is read.
-- The state test repeats the index predicate word for word (an OR chain, not an IN list:
-- migration 0011); SQLite uses a partial index only for a query that names its predicate.
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_token = lower(hex(randomblob(16))), lease_expires_at = :expires_at,
    worker_id = :worker_id
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_claim_idx
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND queue IN (SELECT value FROM json_each(:queues)
                    WHERE value NOT IN (SELECT name FROM conveyor_queues WHERE paused))
      AND run_at <= :now
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
    ORDER BY priority, run_at, id
    LIMIT :limit
)
RETURNING *;

-- name: claim_jobs_any_queue
-- As claim_jobs; its index already yields (priority, run_at, id) order, so the scan stops
-- after :limit rows instead of sorting the backlog. The paused queues are read once per
-- statement (a non-correlated subquery); their jobs are filtered out as the index is walked.
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_token = lower(hex(randomblob(16))), lease_expires_at = :expires_at,
    worker_id = :worker_id
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_claim_any_idx
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND run_at <= :now
      AND queue NOT IN (SELECT name FROM conveyor_queues WHERE paused)
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
    ORDER BY priority, run_at, id
    LIMIT :limit
)
RETURNING *;

-- name: flow_jobs_waiting
-- Whether any flow job waits at all: one step into conveyor_jobs_flow_group_idx (INDEXED
-- BY pins it). Lets a plain claim skip the flow claim when there is nothing for it to do.
SELECT 1 AS waiting FROM conveyor_jobs INDEXED BY conveyor_jobs_flow_group_idx
WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
  AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL)
LIMIT 1;

-- The four fenced updates below change a batch of jobs in one statement, as their
-- PostgreSQL namesakes do. :jobs is one JSON array per job, its id and lease token first.
-- The fence is the token alone (a job holds one if and only if it is running:
-- conveyor_jobs_lease_iff_running). json_each drives the join, one primary-key lookup
-- per job: the keys are read from its rows, so no plan can start from conveyor_jobs
-- (a plan that scanned the running jobs for each array element, or the array for each
-- running job, made a batch of acks slow). A statement per job instead would cost its
-- fixed start-up for every job.

-- name: complete_jobs
-- :jobs holds [id, token, result] per job, result as JSON text.
UPDATE conveyor_jobs
SET state = 'completed', finished_at = :now, result = json_extract(a.value, '$[2]'),
    lease_token = NULL, lease_expires_at = NULL
FROM json_each(:jobs) AS a
WHERE conveyor_jobs.id = json_extract(a.value, '$[0]')
  AND conveyor_jobs.lease_token = json_extract(a.value, '$[1]')
RETURNING conveyor_jobs.id;

-- name: fail_jobs
-- :jobs holds [id, token, error, retry_at] per job, error as JSON text, retry_at null for
-- no retry. With a retry time and attempts left the job waits in 'retrying'; otherwise it
-- is 'failed' for good. The error is appended either way, stamped with the attempt's
-- start from the row (stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC, written out as ISO).
UPDATE conveyor_jobs
SET state = CASE WHEN json_extract(a.value, '$[3]') IS NOT NULL AND attempt < max_attempts
                 THEN 'retrying' ELSE 'failed' END,
    run_at = CASE WHEN json_extract(a.value, '$[3]') IS NOT NULL AND attempt < max_attempts
                  THEN json_extract(a.value, '$[3]') ELSE run_at END,
    finished_at = CASE WHEN json_extract(a.value, '$[3]') IS NOT NULL
                            AND attempt < max_attempts
                       THEN NULL ELSE :now END,
    errors = json_insert(errors, '$[#]', json_set(json_extract(a.value, '$[2]'),
        '$.started_at', replace(started_at, ' ', 'T') || '+00:00')),
    lease_token = NULL, lease_expires_at = NULL
FROM json_each(:jobs) AS a
WHERE conveyor_jobs.id = json_extract(a.value, '$[0]')
  AND conveyor_jobs.lease_token = json_extract(a.value, '$[1]')
RETURNING conveyor_jobs.id;

-- name: extend_leases
-- :jobs holds [id, token] per job; returns the ids whose lease is still held.
UPDATE conveyor_jobs
SET lease_expires_at = :expires_at
FROM json_each(:jobs) AS a
WHERE conveyor_jobs.id = json_extract(a.value, '$[0]')
  AND conveyor_jobs.lease_token = json_extract(a.value, '$[1]')
RETURNING conveyor_jobs.id;

-- name: release_jobs
-- Graceful shutdown: hand held jobs back at once, without counting the attempt. :jobs
-- holds [id, token] per job.
UPDATE conveyor_jobs
SET state = 'available', attempt = max(attempt - 1, 0), run_at = :now,
    started_at = NULL, lease_token = NULL, lease_expires_at = NULL
FROM json_each(:jobs) AS a
WHERE conveyor_jobs.id = json_extract(a.value, '$[0]')
  AND conveyor_jobs.lease_token = json_extract(a.value, '$[1]')
RETURNING conveyor_jobs.id;

-- name: rescue_expired
-- "state <> 'completed'" is the state index's predicate, repeated so that SQLite reads it.
UPDATE conveyor_jobs
SET state = CASE WHEN attempt < max_attempts THEN 'available' ELSE 'failed' END,
    finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE :now END,
    run_at = :now,
    errors = json_insert(errors, '$[#]', json_object(
        'attempt', attempt, 'type', 'LeaseExpired',
        'message', 'lease expired: worker ' || coalesce(worker_id, '?')
                   || ' stopped heart-beating',
        'traceback', '', 'at', :now_text,
        'started_at', replace(started_at, ' ', 'T') || '+00:00')),
    lease_token = NULL, lease_expires_at = NULL
WHERE id IN (
    SELECT id FROM conveyor_jobs
    WHERE state = 'running' AND lease_expires_at < :now AND state <> 'completed'
    ORDER BY lease_expires_at
    LIMIT :limit
)
RETURNING id;

-- name: hold_lease
-- Inside a handler's transaction (which holds SQLite's write lock): confirm the lease.
UPDATE conveyor_jobs SET lease_expires_at = lease_expires_at
WHERE id = :id AND lease_token = :token AND state = 'running'
RETURNING id;

-- name: save_progress
UPDATE conveyor_jobs SET progress_done = :done, progress_total = :total
WHERE id = :id AND lease_token = :token AND state = 'running'
RETURNING id;

-- name: save_checkpoint
UPDATE conveyor_jobs SET checkpoint = :checkpoint
WHERE id = :id AND lease_token = :token AND state = 'running'
RETURNING id;

-- name: get_job
SELECT * FROM conveyor_jobs WHERE id = :id;

-- name: list_jobs
-- Keyset pagination, newest first: :after is the last id of the previous page.
SELECT * FROM conveyor_jobs
WHERE (:after IS NULL OR id < :after)
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
  AND (:tasks IS NULL OR task IN (SELECT value FROM json_each(:tasks)))
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
  AND (:idempotency_key IS NULL OR idempotency_key = :idempotency_key)
  AND (:created_after IS NULL OR created_at >= :created_after)
  AND (:created_before IS NULL OR created_at < :created_before)
  AND (:finished_after IS NULL OR finished_at >= :finished_after)
  AND (:finished_before IS NULL OR finished_at < :finished_before)
ORDER BY id DESC
LIMIT :limit;

-- name: cancel_jobs
UPDATE conveyor_jobs
SET state = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state NOT IN ('completed', 'failed', 'cancelled')
RETURNING *;

-- name: retry_jobs
UPDATE conveyor_jobs
SET state = 'available', run_at = :now, finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('failed', 'cancelled')
RETURNING *;

-- name: retry_failed
-- "state <> 'completed'" is the state index's predicate, repeated so that SQLite reads it.
UPDATE conveyor_jobs
SET state = 'available', run_at = :now, finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE state = 'failed' AND state <> 'completed'
  AND (:tasks IS NULL OR task IN (SELECT value FROM json_each(:tasks)))
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
  AND (:idempotency_key IS NULL OR idempotency_key = :idempotency_key)
  AND (:created_after IS NULL OR created_at >= :created_after)
  AND (:created_before IS NULL OR created_at < :created_before)
  AND (:finished_after IS NULL OR finished_at >= :finished_after)
  AND (:finished_before IS NULL OR finished_at < :finished_before);

-- name: rerun_job
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, timeout_seconds, rerun_of, concurrency_key,
                           concurrency_limit, rate_key, rate_per_second, rate_burst,
                           fairness_key)
SELECT task, queue, 'available', payload, priority, max_attempts, :now, :now,
       timeout_seconds, id, concurrency_key, concurrency_limit, rate_key, rate_per_second,
       rate_burst, fairness_key
FROM conveyor_jobs
WHERE id = :id AND state IN ('completed', 'failed', 'cancelled')
RETURNING *;

-- name: enqueue_tallies
-- Jobs ever enqueued, by task and queue (migration 0018): one row each on SQLite.
SELECT task, queue, sum(count) AS count FROM conveyor_enqueue_tally
GROUP BY task, queue ORDER BY task, queue;

-- name: count_jobs
SELECT queue, state, count(*) AS count FROM conveyor_jobs GROUP BY queue, state;

-- name: prune_finished
DELETE FROM conveyor_jobs WHERE id IN (
    SELECT id FROM conveyor_jobs
    WHERE finished_at < :before
    ORDER BY finished_at
    LIMIT :limit
);

-- name: register_worker
INSERT INTO conveyor_workers (id, host, pid, queues, concurrency, state, started_at,
                              last_heartbeat_at)
VALUES (:id, :host, :pid, :queues, :concurrency, 'running', :now, :now)
ON CONFLICT (id) DO UPDATE SET state = 'running', last_heartbeat_at = :now,
                               stopped_at = NULL;

-- name: heartbeat_worker
UPDATE conveyor_workers
SET last_heartbeat_at = :now, executors = :executors, running = :running,
    completed = :completed, state = :state, metrics = COALESCE(:metrics, metrics),
    stopped_at = CASE WHEN :state = 'stopped' THEN :now ELSE NULL END
WHERE id = :id;

-- name: list_workers
SELECT * FROM conveyor_workers ORDER BY started_at DESC, id LIMIT :limit;

-- name: mark_dead_workers
UPDATE conveyor_workers SET state = 'dead', stopped_at = :now
WHERE state IN ('running', 'stopping') AND last_heartbeat_at < :before
RETURNING id;

-- name: finished_per_minute
-- The fixed-width time text makes its first 16 characters the minute.
SELECT substr(finished_at, 1, 16) AS minute, state, count(*) AS count
FROM conveyor_jobs
WHERE finished_at >= :since
GROUP BY 1, 2
ORDER BY 1;

-- name: oldest_waiting
-- "state <> 'completed'" is the state index's predicate, repeated so that SQLite reads it.
SELECT min(run_at) AS run_at FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'retrying') AND run_at <= :now
  AND state <> 'completed';

-- name: record_items
-- Upsert item outcomes in one statement; 'done' is final (see the PostgreSQL query).
INSERT INTO conveyor_items AS i (ledger, item_key, outcome, reason, job_id, attempt,
                                 recorded_at)
SELECT json_extract(value, '$.ledger'), json_extract(value, '$.key'),
       json_extract(value, '$.outcome'), json_extract(value, '$.reason'),
       json_extract(value, '$.job_id'), json_extract(value, '$.attempt'), :now
FROM json_each(:items)
WHERE true
ON CONFLICT (ledger, item_key) DO UPDATE
SET outcome = excluded.outcome, reason = excluded.reason, job_id = excluded.job_id,
    attempt = excluded.attempt, recorded_at = excluded.recorded_at
WHERE i.outcome <> 'done';

-- name: done_item_keys
SELECT item_key FROM conveyor_items
WHERE ledger = :ledger AND outcome = 'done'
  AND (:keys IS NULL OR item_key IN (SELECT value FROM json_each(:keys)));

-- name: count_items
SELECT outcome, count(*) AS count FROM conveyor_items
WHERE ledger = :ledger GROUP BY outcome;

-- name: list_items
SELECT * FROM conveyor_items
WHERE ledger = :ledger
  AND (:outcome IS NULL OR outcome = :outcome)
  AND (:after IS NULL OR item_key > :after)
ORDER BY item_key
LIMIT :limit;

-- name: insert_batch
-- The batch row; its children follow in insert_batch_jobs, in the same transaction. A
-- taken idempotency key returns no row.
INSERT INTO conveyor_batches (parent_id, idempotency_key, total, pending, callback_task,
                              callback_queue, callback_payload, callback_priority,
                              callback_max_attempts, callback_timeout_seconds, created_at)
VALUES (:parent_id, :idempotency_key, :total, :total, :callback_task, :callback_queue,
        :callback_payload, :callback_priority, :callback_max_attempts,
        :callback_timeout_seconds, :now)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id AS batch_id;

-- name: insert_batch_jobs
-- The children of batch :batch_id, read as insert_jobs reads its batch.
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, timeout_seconds, batch_id, concurrency_key,
                           concurrency_limit, rate_key, rate_per_second, rate_burst,
                           fairness_key)
SELECT coalesce(json_extract(value, '$.task'), :shared_task),
       coalesce(json_extract(value, '$.queue'), :shared_queue),
       coalesce(json_extract(value, '$.state'), :shared_state),
       json_extract(value, '$.payload'),
       coalesce(json_extract(value, '$.priority'), :shared_priority),
       coalesce(json_extract(value, '$.max_attempts'), :shared_max_attempts),
       coalesce(json_extract(value, '$.run_at'), :shared_run_at),
       :now,
       coalesce(json_extract(value, '$.timeout_seconds'), :shared_timeout_seconds),
       :batch_id,
       coalesce(json_extract(value, '$.concurrency_key'), :shared_concurrency_key),
       coalesce(json_extract(value, '$.concurrency_limit'), :shared_concurrency_limit),
       coalesce(json_extract(value, '$.rate_key'), :shared_rate_key),
       coalesce(json_extract(value, '$.rate_per_second'), :shared_rate_per_second),
       coalesce(json_extract(value, '$.rate_burst'), :shared_rate_burst),
       coalesce(json_extract(value, '$.fairness_key'), :shared_fairness_key)
FROM json_each(:rows)
ORDER BY key;

-- name: get_batch
SELECT * FROM conveyor_batches WHERE id = :id;

-- name: get_batch_by_key
SELECT * FROM conveyor_batches WHERE idempotency_key = :idempotency_key;

-- name: list_batches
-- Every batch, newest first; :after is the last id of the previous page. With
-- :unfinished only the batches that still have pending children.
SELECT * FROM conveyor_batches
WHERE (:after IS NULL OR id < :after)
  AND (NOT :unfinished OR finished_at IS NULL)
ORDER BY id DESC
LIMIT :limit;

-- name: list_batches_of_parent
SELECT * FROM conveyor_batches WHERE parent_id = :parent_id ORDER BY id;

-- name: list_batch_jobs
SELECT * FROM conveyor_jobs
WHERE batch_id = :batch_id
  AND (:after IS NULL OR id > :after)
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
ORDER BY id
LIMIT :limit;

-- name: cancel_batch
UPDATE conveyor_jobs
SET state = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL
WHERE batch_id = :batch_id AND state NOT IN ('completed', 'failed', 'cancelled')
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
VALUES (:name, :task, :cron, :timezone, :every_seconds, :anchor_at,
        :payload, :queue, :priority, :catch_up, :allow_overlap,
        :run_on_startup, :per_tenant, :source, :now, :now)
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
        WHEN conveyor_schedules.task IS excluded.task AND conveyor_schedules.cron IS excluded.cron
             AND conveyor_schedules.timezone IS excluded.timezone
             AND conveyor_schedules.every_seconds IS excluded.every_seconds
        THEN conveyor_schedules.updated_at ELSE excluded.updated_at END;

-- name: create_schedule
-- A runtime schedule; nothing is inserted when the name is taken (the caller reports it).
INSERT INTO conveyor_schedules (name, task, cron, timezone, every_seconds, anchor_at, payload,
                                queue, priority, catch_up, allow_overlap, run_on_startup,
                                per_tenant, source, created_at, updated_at)
VALUES (:name, :task, :cron, :timezone, :every_seconds, :anchor_at,
        :payload, :queue, :priority, :catch_up, :allow_overlap,
        :run_on_startup, :per_tenant, :source, :now, :now)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: update_schedule
-- Replace a schedule's definition; it starts afresh from now (updated_at), so a changed
-- rule does not owe fires from before the change.
UPDATE conveyor_schedules
SET task = :task, cron = :cron, timezone = :timezone,
    every_seconds = :every_seconds, anchor_at = :anchor_at, payload = :payload,
    queue = :queue, priority = :priority, catch_up = :catch_up,
    allow_overlap = :allow_overlap, run_on_startup = :run_on_startup,
    per_tenant = :per_tenant, updated_at = :now
WHERE name = :name
RETURNING name;

-- name: set_schedule_paused
-- Pausing and resuming move updated_at too: a resumed schedule owes no fire from the pause.
UPDATE conveyor_schedules SET paused = :paused, updated_at = :now
WHERE name = :name
RETURNING name;

-- name: delete_schedule_fires
DELETE FROM conveyor_schedule_fires WHERE schedule IN (SELECT value FROM json_each(:names));

-- name: delete_schedules
DELETE FROM conveyor_schedules WHERE name IN (SELECT value FROM json_each(:names));

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
    WHERE :name IS NULL OR s.name = :name
) t
LEFT JOIN conveyor_jobs j ON j.id = t.last_job_id
ORDER BY t.name;

-- name: latest_fires
-- Each (schedule, tenant)'s cursor: the newest fire time of its rule that was decided.
SELECT schedule, tenant, fire_at FROM conveyor_schedule_cursors;

-- name: advance_cursor
-- Move a cursor forward (never back: fires may be decided out of order by two schedulers).
INSERT INTO conveyor_schedule_cursors (schedule, tenant, fire_at)
VALUES (:schedule, :tenant, :fire_at)
ON CONFLICT (schedule, tenant) DO UPDATE
SET fire_at = max(conveyor_schedule_cursors.fire_at, excluded.fire_at);

-- name: delete_schedule_cursors
DELETE FROM conveyor_schedule_cursors WHERE schedule IN (SELECT value FROM json_each(:names));

-- name: insert_fire
-- Claim one fire. The primary key makes this the cluster-wide "exactly once": a second
-- scheduler inserting the same fire waits for the first one's transaction, then finds
-- the row taken and gets no row back.
INSERT INTO conveyor_schedule_fires (schedule, tenant, kind, fire_at, outcome, recorded_at)
VALUES (:schedule, :tenant, :kind, :fire_at, :outcome, :now)
ON CONFLICT DO NOTHING
RETURNING fire_at;

-- name: unfinished_schedule_job
-- A job of this schedule (and tenant) that has not finished: the overlap check.
SELECT id FROM conveyor_jobs
WHERE schedule_name = :schedule AND finished_at IS NULL
  AND coalesce(schedule_tenant, '') = :tenant
LIMIT 1;

-- name: link_fired_job
-- Stamp a freshly enqueued job with the fire it came from.
UPDATE conveyor_jobs
SET schedule_name = :schedule, schedule_fire_at = :fire_at,
    schedule_tenant = :job_tenant
WHERE id = :id
RETURNING *;

-- name: set_fire_result
UPDATE conveyor_schedule_fires SET outcome = :outcome, job_id = :job_id
WHERE schedule = :schedule AND tenant = :tenant AND kind = :kind
  AND fire_at = :fire_at;

-- name: claim_startup_fire
-- Compare-and-set: of the schedulers starting within one window, one gets the row.
UPDATE conveyor_schedules SET startup_fired_at = :now
WHERE name = :name AND (startup_fired_at IS NULL OR startup_fired_at < :since)
RETURNING name;

-- name: prune_fires
-- Forget fires recorded before :before: the cursors keep where each rule is.
DELETE FROM conveyor_schedule_fires WHERE recorded_at < :before;

-- name: claim_flow_jobs
-- Claim up to :limit due flow jobs; see the PostgreSQL query for how the groups are
-- walked, how few jobs each gives, and how jobs are admitted and interleaved. A correlated
-- IN subquery stands in for LATERAL. One writer: what the reads see cannot change before
-- the update.
WITH RECURSIVE flow_group(key) AS (
    SELECT (SELECT json_array(queue, concurrency_key, rate_key, fairness_key)
            FROM conveyor_jobs INDEXED BY conveyor_jobs_flow_group_idx
            WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
              AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL
                   OR fairness_key IS NOT NULL)
            ORDER BY 1
            LIMIT 1)
    UNION ALL
    SELECT (SELECT json_array(queue, concurrency_key, rate_key, fairness_key)
            FROM conveyor_jobs INDEXED BY conveyor_jobs_flow_group_idx
            WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
              AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL
                   OR fairness_key IS NOT NULL)
              AND json_array(queue, concurrency_key, rate_key, fairness_key) > g.key
            ORDER BY 1
            LIMIT 1)
    FROM flow_group g
    WHERE g.key IS NOT NULL
), candidate AS (
    SELECT j.id, j.priority, j.run_at, j.concurrency_key, j.concurrency_limit, j.rate_key,
           j.rate_per_second, j.rate_burst, j.fairness_key
    FROM flow_group g
    JOIN conveyor_jobs j ON j.id IN (
        SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_flow_group_idx
        WHERE json_array(queue, concurrency_key, rate_key, fairness_key) = g.key
          AND (state = 'available' OR state = 'scheduled' OR state = 'retrying')
          AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL)
          AND run_at <= :now
        ORDER BY priority, run_at, id
        LIMIT :limit)
    WHERE g.key IS NOT NULL
      AND (:queues IS NULL
           OR json_extract(g.key, '$[0]') IN (SELECT value FROM json_each(:queues)))
      AND json_extract(g.key, '$[0]') NOT IN (SELECT name FROM conveyor_queues WHERE paused)
)
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_token = lower(hex(randomblob(16))), lease_expires_at = :expires_at,
    worker_id = :worker_id
WHERE id IN (
    SELECT e.id FROM (
        SELECT id, priority, run_at, concurrency_key, concurrency_limit, rate_key,
               rate_per_second, rate_burst,
               row_number() OVER (PARTITION BY fairness_key ORDER BY priority, run_at, id)
                   AS turn,
               row_number() OVER (PARTITION BY concurrency_key ORDER BY priority, run_at, id)
                   AS key_rank,
               row_number() OVER (PARTITION BY rate_key ORDER BY priority, run_at, id)
                   AS rate_rank
        FROM candidate
    ) AS e
    LEFT JOIN (
        SELECT k.concurrency_key,
               (SELECT count(*) FROM conveyor_jobs r
                WHERE r.state = 'running' AND r.concurrency_key = k.concurrency_key) AS n
        FROM (SELECT DISTINCT concurrency_key FROM candidate
              WHERE concurrency_key IS NOT NULL) AS k
    ) AS r ON r.concurrency_key = e.concurrency_key
    LEFT JOIN conveyor_rate_buckets b ON b.key = e.rate_key
    WHERE (e.concurrency_key IS NULL OR e.key_rank + coalesce(r.n, 0) <= e.concurrency_limit)
      AND (e.rate_key IS NULL OR e.rate_rank <= coalesce(min(
              e.rate_burst,
              -- julianday differences carry ~50 us of float noise: round to 1 ms.
              b.tokens + max(round((julianday(:now) - julianday(b.updated_at)) * 86400.0, 3),
                             0) * e.rate_per_second),
              e.rate_burst))
    ORDER BY e.priority, e.turn, e.run_at, e.id
    LIMIT :limit
)
RETURNING *;

-- name: take_rate_tokens
INSERT INTO conveyor_rate_buckets AS b (key, tokens, rate_per_second, burst, updated_at)
SELECT rate_key, max(rate_burst) - count(*), max(rate_per_second), max(rate_burst), :now
FROM conveyor_jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND rate_key IS NOT NULL
GROUP BY rate_key
ON CONFLICT (key) DO UPDATE
SET tokens = min(excluded.burst,
                 b.tokens + max(round((julianday(excluded.updated_at)
                                       - julianday(b.updated_at)) * 86400.0, 3), 0)
                            * excluded.rate_per_second)
             - (excluded.burst - excluded.tokens),
    rate_per_second = excluded.rate_per_second, burst = excluded.burst,
    updated_at = max(b.updated_at, excluded.updated_at);

-- name: get_rate_bucket
SELECT * FROM conveyor_rate_buckets WHERE key = :key;

-- name: running_with_key
SELECT id FROM conveyor_jobs
WHERE state = 'running' AND concurrency_key = :key
ORDER BY id;
-- name: pause_queue
-- Idempotent: pausing a paused queue keeps its first paused_at and returns no row.
INSERT INTO conveyor_queues (name, paused, paused_at, updated_at)
VALUES (:queue, 1, :now, :now)
ON CONFLICT (name) DO UPDATE SET paused = 1, paused_at = :now, updated_at = :now
WHERE NOT conveyor_queues.paused
RETURNING name;

-- name: resume_queue
-- No cross-process NOTIFY on SQLite: the app wakes in-process workers, others poll.
UPDATE conveyor_queues SET paused = 0, paused_at = NULL, updated_at = :now
WHERE name = :queue AND paused
RETURNING name;

-- name: list_queues
-- See the PostgreSQL query of the same name.
-- "state <> 'completed'" is the state index's predicate, repeated so that SQLite reads it.
WITH counted AS (
    SELECT queue,
           count(*) FILTER (WHERE state = 'available') AS available,
           count(*) FILTER (WHERE state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE state = 'running') AS running,
           count(*) FILTER (WHERE state = 'retrying') AS retrying,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           min(run_at) FILTER (WHERE state IN ('available', 'scheduled', 'retrying')
                                 AND run_at <= :now) AS oldest_waiting_run_at
    FROM conveyor_jobs
    WHERE state IN ('available', 'scheduled', 'running', 'retrying', 'failed')
      AND state <> 'completed'
    GROUP BY queue
), names AS (
    SELECT queue AS name FROM counted UNION SELECT name FROM conveyor_queues
)
SELECT n.name, coalesce(q.paused, 0) AS paused, q.paused_at,
       coalesce(c.available, 0) AS available, coalesce(c.scheduled, 0) AS scheduled,
       coalesce(c.running, 0) AS running, coalesce(c.retrying, 0) AS retrying,
       coalesce(c.failed, 0) AS failed, c.oldest_waiting_run_at
FROM names n
LEFT JOIN counted c ON c.queue = n.name
LEFT JOIN conveyor_queues q ON q.name = n.name;

-- name: queue_depths
-- Open jobs by queue and state through the state index ("state <> 'completed'" is its
-- predicate, repeated so that SQLite reads it): never the history. oldest_due is the
-- run_at of the longest-waiting job that could run now.
SELECT queue, state, count(*) AS count,
       min(CASE WHEN state <> 'running' AND run_at <= :now THEN run_at END) AS oldest_due
FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'running', 'retrying') AND state <> 'completed'
GROUP BY queue, state;

-- name: worker_tallies
-- Every worker's last written figures, and the totals folded in from pruned workers.
SELECT metrics FROM conveyor_workers WHERE metrics IS NOT NULL
UNION ALL
SELECT metrics FROM conveyor_metric_totals;

-- name: prune_workers_returning
-- Forget stopped and dead workers, returning each pruned worker's figures for the totals row.
DELETE FROM conveyor_workers
WHERE state IN ('stopped', 'dead') AND stopped_at < :before
RETURNING metrics;

-- name: metric_totals
SELECT metrics FROM conveyor_metric_totals WHERE id = 1;

-- name: save_metric_totals
INSERT INTO conveyor_metric_totals (id, metrics) VALUES (1, :metrics)
ON CONFLICT (id) DO UPDATE SET metrics = excluded.metrics;

-- name: occur_incident
-- Opens the incident (last_claim 'open': send the alert), or counts one more occurrence
-- ('folded'); once the digest window passed since the last message, moves sent_at on
-- ('digest': send a digest of `digested` occurrences). SET reads the row as it was before.
INSERT INTO conveyor_incidents (rule, subject, opened_at, sent_at, folded, digested, last_claim)
VALUES (:rule, :subject, :now, :now, 0, 0, 'open')
ON CONFLICT (rule, subject) DO UPDATE SET
    folded = CASE WHEN :now - conveyor_incidents.sent_at >= :window
        THEN 0 ELSE conveyor_incidents.folded + 1 END,
    digested = CASE WHEN :now - conveyor_incidents.sent_at >= :window
        THEN conveyor_incidents.folded + 1 ELSE conveyor_incidents.digested END,
    sent_at = CASE WHEN :now - conveyor_incidents.sent_at >= :window
        THEN :now ELSE conveyor_incidents.sent_at END,
    last_claim = CASE WHEN :now - conveyor_incidents.sent_at >= :window
        THEN 'digest' ELSE 'folded' END
RETURNING last_claim, folded, digested;

-- name: flush_incident_digests
-- The incidents whose window passed with folded occurrences; each row goes to one caller.
UPDATE conveyor_incidents SET sent_at = :now, digested = folded, folded = 0
WHERE folded > 0 AND :now - sent_at >= :window
RETURNING rule, subject, digested;

-- name: resolve_incident
DELETE FROM conveyor_incidents WHERE rule = :rule AND subject = :subject
RETURNING rule;

-- name: list_incidents
-- The open incidents (a handful of rows), for the rules that resolve when a condition clears.
SELECT rule, subject FROM conveyor_incidents ORDER BY rule, subject;
