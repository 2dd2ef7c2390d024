-- Jobs enqueued, by task and queue (see the PostgreSQL migration of this number). SQLite
-- has one writer and takes no row locks, so a row per (task, queue) is updated in place.
CREATE TABLE conveyor_enqueue_tally (
    task  TEXT NOT NULL,
    queue TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (task, queue)
);

-- The batch trigger of migration 0011, which also counts the callback job it enqueues.
DROP TRIGGER conveyor_jobs_batch_child;
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
    -- No table alias in a trigger: an unqualified column in the SET is the counter's.
    INSERT INTO conveyor_enqueue_tally (task, queue, count)
    SELECT callback_task, callback_queue, 1
    FROM conveyor_batches
    WHERE id = NEW.batch_id AND pending = 0 AND callback_task IS NOT NULL
      AND callback_job_id IS NULL
    ON CONFLICT (task, queue) DO UPDATE SET count = count + 1;
    UPDATE conveyor_batches
    SET callback_job_id = (SELECT j.id FROM conveyor_jobs j
                           WHERE j.task = conveyor_batches.callback_task
                             AND j.idempotency_key = 'conveyor-batch:' || conveyor_batches.id)
    WHERE id = NEW.batch_id AND pending = 0 AND callback_task IS NOT NULL
      AND callback_job_id IS NULL;
END;
