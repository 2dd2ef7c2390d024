-- Constant IN lists cost SQLite a temporary b-tree each time a CHECK constraint or a
-- partial index predicate is evaluated: built, filled and freed for every row written
-- (a statement's own IN lists are built once per statement). Every claim and every ack
-- evaluated about a dozen of them per job, over half of the store's CPU on the hot path
-- (a one-job ack 98 -> 40 us, a claim 47 -> 30 us per job). The same conditions as OR
-- chains are plain comparisons. A CHECK constraint changes only with its table, so the
-- jobs table is rebuilt (the procedure of https://sqlite.org/lang_altertable.html), and
-- with it its indexes and its trigger, unchanged but for the predicates. The statements
-- that rely on a partial index repeat its predicate word for word (SQLite matches it
-- as written). PostgreSQL's migration of this number does nothing.
CREATE TABLE conveyor_jobs_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    task             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (
                         state = 'scheduled' OR state = 'available' OR state = 'running'
                         OR state = 'retrying' OR state = 'completed' OR state = 'failed'
                         OR state = 'cancelled'),
    payload          TEXT NOT NULL CHECK (json_valid(payload)),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    progress_done    INTEGER,
    progress_total   INTEGER,
    result           TEXT,
    errors           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    checkpoint       TEXT,
    idempotency_key  TEXT,
    rerun_of         INTEGER,
    timeout_seconds  REAL,
    lease_token      TEXT,
    lease_expires_at TEXT,
    worker_id        TEXT,
    batch_id         INTEGER,
    schedule_name    TEXT,
    schedule_fire_at TEXT,
    schedule_tenant  TEXT,
    concurrency_key  TEXT,
    concurrency_limit INTEGER CHECK (concurrency_limit >= 1),
    rate_key         TEXT,
    rate_per_second  REAL CHECK (rate_per_second > 0),
    rate_burst       REAL CHECK (rate_burst >= 1),
    fairness_key     TEXT,
    CONSTRAINT conveyor_jobs_finished_iff_final CHECK (
        (finished_at IS NOT NULL)
        = (state = 'completed' OR state = 'failed' OR state = 'cancelled')),
    CONSTRAINT conveyor_jobs_lease_iff_running CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);
INSERT INTO conveyor_jobs_new (
    id, task, queue, state, payload, priority, attempt, max_attempts, run_at, created_at,
    started_at, finished_at, progress_done, progress_total, result, errors, checkpoint,
    idempotency_key, rerun_of, timeout_seconds, lease_token, lease_expires_at, worker_id,
    batch_id, schedule_name, schedule_fire_at, schedule_tenant, concurrency_key,
    concurrency_limit, rate_key, rate_per_second, rate_burst, fairness_key)
SELECT
    id, task, queue, state, payload, priority, attempt, max_attempts, run_at, created_at,
    started_at, finished_at, progress_done, progress_total, result, errors, checkpoint,
    idempotency_key, rerun_of, timeout_seconds, lease_token, lease_expires_at, worker_id,
    batch_id, schedule_name, schedule_fire_at, schedule_tenant, concurrency_key,
    concurrency_limit, rate_key, rate_per_second, rate_burst, fairness_key
FROM conveyor_jobs;
-- The id sequence moves with the table (DROP TABLE would forget it, and ids of pruned
-- jobs would be handed out again); RENAME then renames it with the table.
DELETE FROM sqlite_sequence WHERE name = 'conveyor_jobs_new';
UPDATE sqlite_sequence SET name = 'conveyor_jobs_new' WHERE name = 'conveyor_jobs';
DROP TABLE conveyor_jobs;
ALTER TABLE conveyor_jobs_new RENAME TO conveyor_jobs;

CREATE INDEX conveyor_jobs_claim_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
CREATE INDEX conveyor_jobs_claim_any_idx ON conveyor_jobs (priority, run_at, id)
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
CREATE INDEX conveyor_jobs_flow_group_idx ON conveyor_jobs (
        json_array(queue, concurrency_key, rate_key, fairness_key), priority, run_at, id)
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL);
CREATE INDEX conveyor_jobs_lease_idx ON conveyor_jobs (lease_expires_at)
    WHERE state = 'running';
CREATE INDEX conveyor_jobs_finished_idx ON conveyor_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX conveyor_jobs_task_idx ON conveyor_jobs (task, id);
CREATE INDEX conveyor_jobs_state_idx ON conveyor_jobs (state, id);
CREATE UNIQUE INDEX conveyor_jobs_idempotency_idx ON conveyor_jobs (task, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX conveyor_jobs_batch_idx ON conveyor_jobs (batch_id, id) WHERE batch_id IS NOT NULL;
CREATE INDEX conveyor_jobs_schedule_idx ON conveyor_jobs (schedule_name, schedule_tenant)
    WHERE schedule_name IS NOT NULL AND finished_at IS NULL;
CREATE INDEX conveyor_jobs_running_key_idx ON conveyor_jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;

CREATE TRIGGER conveyor_jobs_batch_child AFTER UPDATE OF state ON conveyor_jobs
FOR EACH ROW
WHEN NEW.batch_id IS NOT NULL
     AND (OLD.state IN ('completed', 'failed', 'cancelled'))
         IS NOT (NEW.state IN ('completed', 'failed', 'cancelled'))
BEGIN
    UPDATE conveyor_batches
    SET pending = pending - (CASE WHEN NEW.state IN ('completed', 'failed', 'cancelled')
                                  THEN 1 ELSE -1 END),
        completed = completed + (NEW.state = 'completed') - (OLD.state = 'completed'),
        failed = failed + (NEW.state = 'failed') - (OLD.state = 'failed'),
        cancelled = cancelled + (NEW.state = 'cancelled') - (OLD.state = 'cancelled'),
        finished_at = CASE WHEN pending - (CASE WHEN NEW.state IN ('completed', 'failed',
                                                                   'cancelled')
                                                THEN 1 ELSE -1 END) = 0
                           THEN coalesce(finished_at, NEW.finished_at) END
    WHERE id = NEW.batch_id;
    UPDATE conveyor_jobs
    SET progress_done = (SELECT total - pending FROM conveyor_batches WHERE id = NEW.batch_id),
        progress_total = (SELECT total FROM conveyor_batches WHERE id = NEW.batch_id)
    WHERE id = (SELECT parent_id FROM conveyor_batches WHERE id = NEW.batch_id);
    INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                               created_at, idempotency_key, timeout_seconds)
    SELECT callback_task, callback_queue, 'available',
           -- json_set, not json_patch: a merge patch drops keys whose value is null.
           json_set(callback_payload, '$.batch_id', id, '$.parent_id', parent_id,
                    '$.total', total, '$.completed', completed, '$.failed', failed,
                    '$.cancelled', cancelled),
           callback_priority, callback_max_attempts, finished_at, finished_at,
           'conveyor-batch:' || id, callback_timeout_seconds
    FROM conveyor_batches
    WHERE id = NEW.batch_id AND pending = 0 AND callback_task IS NOT NULL
      AND callback_job_id IS NULL;
    UPDATE conveyor_batches
    SET callback_job_id = (SELECT j.id FROM conveyor_jobs j
                           WHERE j.task = conveyor_batches.callback_task
                             AND j.idempotency_key = 'conveyor-batch:' || conveyor_batches.id)
    WHERE id = NEW.batch_id AND pending = 0 AND callback_task IS NOT NULL
      AND callback_job_id IS NULL;
END;
