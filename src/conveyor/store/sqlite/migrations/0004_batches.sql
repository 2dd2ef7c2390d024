-- Batches (see the PostgreSQL migration of the same number). SQLite has one writer, so
-- the trigger's read-then-insert of the callback cannot interleave with another's.
CREATE TABLE conveyor_batches (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id                INTEGER,
    idempotency_key          TEXT UNIQUE,
    total                    INTEGER NOT NULL CHECK (total > 0),
    pending                  INTEGER NOT NULL,
    completed                INTEGER NOT NULL DEFAULT 0,
    failed                   INTEGER NOT NULL DEFAULT 0,
    cancelled                INTEGER NOT NULL DEFAULT 0,
    callback_task            TEXT,
    callback_queue           TEXT,
    callback_payload         TEXT CHECK (callback_payload IS NULL OR json_valid(callback_payload)),
    callback_priority        INTEGER,
    callback_max_attempts    INTEGER,
    callback_timeout_seconds REAL,
    callback_job_id          INTEGER,
    created_at               TEXT NOT NULL,
    finished_at              TEXT,
    CONSTRAINT conveyor_batches_counts_add_up CHECK (
        pending >= 0 AND pending + completed + failed + cancelled = total),
    CONSTRAINT conveyor_batches_finished_iff_none_pending CHECK (
        (finished_at IS NOT NULL) = (pending = 0))
);
CREATE INDEX conveyor_batches_parent_idx ON conveyor_batches (parent_id, id)
    WHERE parent_id IS NOT NULL;

ALTER TABLE conveyor_jobs ADD COLUMN batch_id INTEGER;
CREATE INDEX conveyor_jobs_batch_idx ON conveyor_jobs (batch_id, id) WHERE batch_id IS NOT NULL;

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
