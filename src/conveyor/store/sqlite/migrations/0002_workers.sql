-- The worker registry (see the PostgreSQL migration of the same number).
CREATE TABLE conveyor_workers (
    id                TEXT PRIMARY KEY,
    host              TEXT NOT NULL,
    pid               INTEGER NOT NULL,
    queues            TEXT,
    concurrency       INTEGER NOT NULL,
    executors         INTEGER NOT NULL DEFAULT 0,
    running           INTEGER NOT NULL DEFAULT 0,
    completed         INTEGER NOT NULL DEFAULT 0,
    state             TEXT NOT NULL CHECK (state IN ('running', 'stopping', 'stopped', 'dead')),
    started_at        TEXT NOT NULL,
    last_heartbeat_at TEXT NOT NULL,
    stopped_at        TEXT
);
CREATE INDEX conveyor_workers_heartbeat_idx ON conveyor_workers (last_heartbeat_at)
    WHERE state IN ('running', 'stopping');
