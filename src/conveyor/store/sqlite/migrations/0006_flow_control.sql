-- Flow control (see the PostgreSQL migration of the same number).
ALTER TABLE conveyor_jobs ADD COLUMN concurrency_key TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN concurrency_limit INTEGER CHECK (concurrency_limit >= 1);
ALTER TABLE conveyor_jobs ADD COLUMN rate_key TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN rate_per_second REAL CHECK (rate_per_second > 0);
ALTER TABLE conveyor_jobs ADD COLUMN rate_burst REAL CHECK (rate_burst >= 1);
ALTER TABLE conveyor_jobs ADD COLUMN fairness_key TEXT;

CREATE INDEX conveyor_jobs_flow_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL);
CREATE INDEX conveyor_jobs_running_key_idx ON conveyor_jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;

CREATE TABLE conveyor_rate_buckets (
    key             TEXT PRIMARY KEY,
    tokens          REAL NOT NULL,
    rate_per_second REAL NOT NULL CHECK (rate_per_second > 0),
    burst           REAL NOT NULL CHECK (burst >= 1),
    updated_at      TEXT NOT NULL
);
