-- Jobs enqueued, by task and queue: conveyor_jobs_enqueued_total. The statements that
-- insert jobs count them in the same transaction (queries.sql), only rows really inserted,
-- so a rolled-back enqueue or a taken idempotency key counts nothing.
-- Each inserting statement appends one row per (task, queue) it inserted; none updates a
-- row, so an enqueue never waits on another's lock: a counter row updated in place would
-- stay locked until a transactional enqueue's (perhaps long) transaction ended, and two
-- such transactions could deadlock on two counters. Maintenance folds the rows into one
-- per (task, queue) (compact_enqueue_tally), so that a scrape sums a small table.
-- Pruning jobs leaves it alone: a counter only grows. It starts at zero here.
CREATE TABLE conveyor_enqueue_tally (
    task  text NOT NULL,
    queue text NOT NULL,
    count bigint NOT NULL CHECK (count > 0)
);

-- The batch trigger of migration 0004, which also counts the callback job it enqueues.
CREATE OR REPLACE FUNCTION conveyor_batch_child_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    finals CONSTANT text[] := ARRAY['completed', 'failed', 'cancelled'];
    b conveyor_batches%ROWTYPE;
    delta integer;
    callback bigint;
BEGIN
    delta := CASE WHEN NEW.state = ANY(finals) THEN 1 ELSE -1 END;
    UPDATE conveyor_batches
    SET pending = pending - delta,
        completed = completed + (NEW.state = 'completed')::int - (OLD.state = 'completed')::int,
        failed = failed + (NEW.state = 'failed')::int - (OLD.state = 'failed')::int,
        cancelled = cancelled + (NEW.state = 'cancelled')::int
                    - (OLD.state = 'cancelled')::int,
        finished_at = CASE WHEN pending - delta = 0
                           THEN coalesce(finished_at, NEW.finished_at) END
    WHERE id = NEW.batch_id
    RETURNING * INTO b;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE conveyor_jobs SET progress_done = b.total - b.pending, progress_total = b.total
    WHERE id = b.parent_id;
    IF b.pending = 0 AND b.callback_task IS NOT NULL AND b.callback_job_id IS NULL THEN
        INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, run_at,
                                   created_at, idempotency_key, timeout_seconds)
        VALUES (b.callback_task, b.callback_queue, 'available',
                b.callback_payload || jsonb_build_object(
                    'batch_id', b.id, 'parent_id', b.parent_id, 'total', b.total,
                    'completed', b.completed, 'failed', b.failed, 'cancelled', b.cancelled),
                b.callback_priority, b.callback_max_attempts, b.finished_at, b.finished_at,
                'conveyor-batch:' || b.id, b.callback_timeout_seconds)
        ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id INTO callback;
        IF callback IS NOT NULL THEN
            INSERT INTO conveyor_enqueue_tally (task, queue, count)
            VALUES (b.callback_task, b.callback_queue, 1);
        END IF;
        UPDATE conveyor_batches SET callback_job_id = callback WHERE id = b.id;
        PERFORM pg_notify('conveyor_jobs', b.callback_queue);
    END IF;
    RETURN NULL;
END
$$;
