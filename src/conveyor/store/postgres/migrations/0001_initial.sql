-- The jobs table. State invariants are CHECK constraints so that no code path can
-- leave a row half-way between two states.
CREATE TABLE conveyor_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task             text NOT NULL,
    queue            text NOT NULL,
    state            text NOT NULL CHECK (state IN (
                         'scheduled', 'available', 'running', 'retrying',
                         'completed', 'failed', 'cancelled')),
    payload          jsonb NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    progress_done    bigint,
    progress_total   bigint,
    result           jsonb,
    errors           jsonb NOT NULL DEFAULT '[]'::jsonb,
    checkpoint       jsonb,
    idempotency_key  text,
    rerun_of         bigint,
    timeout_seconds  double precision,
    lease_token      uuid,
    lease_expires_at timestamptz,
    worker_id        text,
    CONSTRAINT conveyor_jobs_finished_iff_final CHECK (
        (finished_at IS NOT NULL) = (state IN ('completed', 'failed', 'cancelled'))),
    CONSTRAINT conveyor_jobs_lease_iff_running CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- The claim reads this index in (priority, run_at, id) order per queue; the partial
-- predicate keeps finished history out of it, so claims do not slow down as history grows.
CREATE INDEX conveyor_jobs_claim_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying');
CREATE INDEX conveyor_jobs_claim_any_idx ON conveyor_jobs (priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying');
CREATE INDEX conveyor_jobs_lease_idx ON conveyor_jobs (lease_expires_at)
    WHERE state = 'running';
CREATE INDEX conveyor_jobs_finished_idx ON conveyor_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX conveyor_jobs_task_idx ON conveyor_jobs (task, id);
CREATE INDEX conveyor_jobs_state_idx ON conveyor_jobs (state, id);
-- A key belongs to one job of a task; the unique index (not a check-then-insert) is
-- what makes concurrent enqueues with the same key return one job.
CREATE UNIQUE INDEX conveyor_jobs_idempotency_idx ON conveyor_jobs (task, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
