-- Operator controls per queue. A queue needs no row to exist (it exists while jobs name
-- it); a row records a decision about it. Claims skip paused queues; enqueues do not look
-- here, so jobs keep arriving in a paused queue and wait.
CREATE TABLE conveyor_queues (
    name       text PRIMARY KEY,
    paused     boolean NOT NULL DEFAULT false,
    paused_at  timestamptz,
    updated_at timestamptz NOT NULL,
    CONSTRAINT conveyor_queues_paused_at_iff_paused CHECK (paused = (paused_at IS NOT NULL))
);
