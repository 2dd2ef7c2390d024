-- Batches: a group of child jobs with counters kept by the database itself, and an
-- optional callback job enqueued once when every child is final.
CREATE TABLE conveyor_batches (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id                bigint,
    idempotency_key          text UNIQUE,
    total                    integer NOT NULL CHECK (total > 0),
    pending                  integer NOT NULL,
    completed                integer NOT NULL DEFAULT 0,
    failed                   integer NOT NULL DEFAULT 0,
    cancelled                integer NOT NULL DEFAULT 0,
    callback_task            text,
    callback_queue           text,
    callback_payload         jsonb,
    callback_priority        integer,
    callback_max_attempts    integer,
    callback_timeout_seconds double precision,
    callback_job_id          bigint,
    created_at               timestamptz NOT NULL,
    finished_at              timestamptz,
    CONSTRAINT conveyor_batches_counts_add_up CHECK (
        pending >= 0 AND pending + completed + failed + cancelled = total),
    CONSTRAINT conveyor_batches_finished_iff_none_pending CHECK (
        (finished_at IS NOT NULL) = (pending = 0))
);
CREATE INDEX conveyor_batches_parent_idx ON conveyor_batches (parent_id, id)
    WHERE parent_id IS NOT NULL;

ALTER TABLE conveyor_jobs ADD COLUMN batch_id bigint;
CREATE INDEX conveyor_jobs_batch_idx ON conveyor_jobs (batch_id, id) WHERE batch_id IS NOT NULL;

-- Every change of a child between "not final" and "final" - whichever statement makes it
-- (ack, rescue, cancel, retry) - moves the batch's counters in the same transaction. The
-- UPDATE locks the batch row until commit, so when the last two children finish at once
-- on two workers the second trigger waits, then sees the first one's counters and
-- callback_job_id: exactly one callback. The idempotency key on the callback job is a
-- second guard. A child retried after the callback ran does not run it again.
CREATE FUNCTION conveyor_batch_child_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
        UPDATE conveyor_batches SET callback_job_id = callback WHERE id = b.id;
        PERFORM pg_notify('conveyor_jobs', b.callback_queue);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER conveyor_jobs_batch_child AFTER UPDATE OF state ON conveyor_jobs
FOR EACH ROW
WHEN (NEW.batch_id IS NOT NULL
      AND (OLD.state IN ('completed', 'failed', 'cancelled'))
          IS DISTINCT FROM (NEW.state IN ('completed', 'failed', 'cancelled')))
EXECUTE FUNCTION conveyor_batch_child_changed();
