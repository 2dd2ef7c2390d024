-- The jobs table. Times are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (fixed width, so text
-- order is time order); JSON columns hold JSON text.
CREATE TABLE conveyor_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    task             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN (
                         'scheduled', 'available', 'running', 'retrying',
                         'completed', 'failed', 'cancelled')),
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
    CONSTRAINT conveyor_jobs_finished_iff_final CHECK (
        (finished_at IS NOT NULL) = (state IN ('completed', 'failed', 'cancelled'))),
    CONSTRAINT conveyor_jobs_lease_iff_running CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);

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
CREATE UNIQUE INDEX conveyor_jobs_idempotency_idx ON conveyor_jobs (task, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
