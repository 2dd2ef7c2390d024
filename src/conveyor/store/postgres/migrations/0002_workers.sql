-- The worker registry: each worker process records itself and heart-beats; a worker
-- whose heartbeat is older than a few lease periods is marked dead by any other.
CREATE TABLE conveyor_workers (
    id                text PRIMARY KEY,
    host              text NOT NULL,
    pid               integer NOT NULL,
    queues            jsonb,
    concurrency       integer NOT NULL,
    executors         integer NOT NULL DEFAULT 0,
    running           integer NOT NULL DEFAULT 0,
    completed         bigint NOT NULL DEFAULT 0,
    state             text NOT NULL CHECK (state IN ('running', 'stopping', 'stopped', 'dead')),
    started_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    stopped_at        timestamptz
);
CREATE INDEX conveyor_workers_heartbeat_idx ON conveyor_workers (last_heartbeat_at)
    WHERE state IN ('running', 'stopping');
