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
-- Insert a batch in input order (rowids follow it). "WHERE true" is required by SQLite's
-- parser between an INSERT ... SELECT and its ON CONFLICT clause.
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, idempotency_key, timeout_seconds, rerun_of)
SELECT json_extract(value, '$.task'), json_extract(value, '$.queue'),
       json_extract(value, '$.state'), json_extract(value, '$.payload'),
       json_extract(value, '$.priority'), json_extract(value, '$.max_attempts'),
       json_extract(value, '$.run_at'), :now, json_extract(value, '$.idempotency_key'),
       json_extract(value, '$.timeout_seconds'), json_extract(value, '$.rerun_of')
FROM json_each(:jobs)
WHERE true
ORDER BY key
ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

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
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_token = lower(hex(randomblob(16))), lease_expires_at = :expires_at,
    worker_id = :worker_id
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_claim_idx
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND queue IN (SELECT value FROM json_each(:queues))
      AND run_at <= :now
    ORDER BY priority, run_at, id
    LIMIT :limit
)
RETURNING *;

-- name: claim_jobs_any_queue
-- As claim_jobs; its index already yields (priority, run_at, id) order, so the scan stops
-- after :limit rows instead of sorting the backlog.
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_token = lower(hex(randomblob(16))), lease_expires_at = :expires_at,
    worker_id = :worker_id
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_claim_any_idx
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND run_at <= :now
    ORDER BY priority, run_at, id
    LIMIT :limit
)
RETURNING *;

-- name: complete_jobs
-- Fenced: only a running job whose lease token matches is completed. result arrives as
-- JSON text (or null) so that json_extract does not unwrap a JSON string result.
UPDATE conveyor_jobs
SET state = 'completed', finished_at = :now, result = x.result,
    lease_token = NULL, lease_expires_at = NULL
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token,
             json_extract(value, '$.result') AS result
      FROM json_each(:acks)) AS x
WHERE conveyor_jobs.id = x.id AND conveyor_jobs.lease_token = x.token
  AND conveyor_jobs.state = 'running'
RETURNING conveyor_jobs.id;

-- name: fail_jobs
UPDATE conveyor_jobs
SET state = CASE WHEN x.retry_at IS NOT NULL AND attempt < max_attempts
                 THEN 'retrying' ELSE 'failed' END,
    run_at = CASE WHEN x.retry_at IS NOT NULL AND attempt < max_attempts
                  THEN x.retry_at ELSE run_at END,
    finished_at = CASE WHEN x.retry_at IS NOT NULL AND attempt < max_attempts
                       THEN NULL ELSE :now END,
    errors = json_insert(errors, '$[#]', json(x.error)),
    lease_token = NULL, lease_expires_at = NULL
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token,
             json_extract(value, '$.error') AS error,
             json_extract(value, '$.retry_at') AS retry_at
      FROM json_each(:acks)) AS x
WHERE conveyor_jobs.id = x.id AND conveyor_jobs.lease_token = x.token
  AND conveyor_jobs.state = 'running'
RETURNING conveyor_jobs.id;

-- name: extend_leases
UPDATE conveyor_jobs
SET lease_expires_at = :expires_at
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token
      FROM json_each(:leases)) AS x
WHERE conveyor_jobs.id = x.id AND conveyor_jobs.lease_token = x.token
  AND conveyor_jobs.state = 'running'
RETURNING conveyor_jobs.id;

-- name: release_jobs
UPDATE conveyor_jobs
SET state = 'available', attempt = max(attempt - 1, 0), run_at = :now,
    started_at = NULL, lease_token = NULL, lease_expires_at = NULL
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token
      FROM json_each(:leases)) AS x
WHERE conveyor_jobs.id = x.id AND conveyor_jobs.lease_token = x.token
  AND conveyor_jobs.state = 'running'
RETURNING conveyor_jobs.id;

-- name: rescue_expired
UPDATE conveyor_jobs
SET state = CASE WHEN attempt < max_attempts THEN 'available' ELSE 'failed' END,
    finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE :now END,
    run_at = :now,
    errors = json_insert(errors, '$[#]', json_object(
        'attempt', attempt, 'type', 'LeaseExpired',
        'message', 'lease expired: worker ' || coalesce(worker_id, '?')
                   || ' stopped heart-beating',
        'traceback', '', 'at', :now_text)),
    lease_token = NULL, lease_expires_at = NULL
WHERE id IN (
    SELECT id FROM conveyor_jobs
    WHERE state = 'running' AND lease_expires_at < :now
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
UPDATE conveyor_jobs
SET state = 'available', run_at = :now, finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE state = 'failed'
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
                           created_at, timeout_seconds, rerun_of)
SELECT task, queue, 'available', payload, priority, max_attempts, :now, :now,
       timeout_seconds, id
FROM conveyor_jobs
WHERE id = :id AND state IN ('completed', 'failed', 'cancelled')
RETURNING *;

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
    completed = :completed, state = :state,
    stopped_at = CASE WHEN :state = 'stopped' THEN :now ELSE NULL END
WHERE id = :id;

-- name: list_workers
SELECT * FROM conveyor_workers ORDER BY started_at DESC, id LIMIT :limit;

-- name: mark_dead_workers
UPDATE conveyor_workers SET state = 'dead', stopped_at = :now
WHERE state IN ('running', 'stopping') AND last_heartbeat_at < :before
RETURNING id;

-- name: prune_workers
DELETE FROM conveyor_workers
WHERE state IN ('stopped', 'dead') AND stopped_at < :before;

-- name: finished_per_minute
-- The fixed-width time text makes its first 16 characters the minute.
SELECT substr(finished_at, 1, 16) AS minute, state, count(*) AS count
FROM conveyor_jobs
WHERE finished_at >= :since
GROUP BY 1, 2
ORDER BY 1;

-- name: oldest_waiting
SELECT min(run_at) AS run_at FROM conveyor_jobs
WHERE state IN ('available', 'scheduled', 'retrying') AND run_at <= :now;

-- name: notify_queues
-- SQLite has no cross-process NOTIFY: the store wakes in-process workers instead, and this
-- statement only echoes the queues so that both dialects define the same names.
SELECT value AS queue FROM json_each(:queues);

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
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                           created_at, timeout_seconds, batch_id)
SELECT json_extract(value, '$.task'), json_extract(value, '$.queue'),
       json_extract(value, '$.state'), json_extract(value, '$.payload'),
       json_extract(value, '$.priority'), json_extract(value, '$.max_attempts'),
       json_extract(value, '$.run_at'), :now, json_extract(value, '$.timeout_seconds'),
       :batch_id
FROM json_each(:jobs)
ORDER BY key;

-- name: get_batch
SELECT * FROM conveyor_batches WHERE id = :id;

-- name: get_batch_by_key
SELECT * FROM conveyor_batches WHERE idempotency_key = :idempotency_key;

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
