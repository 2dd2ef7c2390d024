-- Operator controls per queue (see the PostgreSQL migration of the same number).
CREATE TABLE conveyor_queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    paused_at  TEXT,
    updated_at TEXT NOT NULL,
    CONSTRAINT conveyor_queues_paused_at_iff_paused CHECK (paused = (paused_at IS NOT NULL))
);
