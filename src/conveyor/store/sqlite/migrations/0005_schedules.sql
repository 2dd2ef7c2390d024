-- Schedules: code-declared ones are synced in when a scheduler starts (source 'code'),
-- runtime ones are created through the API (source 'runtime'). Exactly one of cron /
-- every_seconds is set. Times are UTC text, booleans 0/1.
CREATE TABLE conveyor_schedules (
    name             TEXT PRIMARY KEY,
    task             TEXT NOT NULL,
    cron             TEXT,
    timezone         TEXT NOT NULL DEFAULT 'UTC',
    every_seconds    REAL CHECK (every_seconds > 0),
    anchor_at        TEXT,
    payload          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    queue            TEXT,
    priority         INTEGER,
    catch_up         TEXT NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'all', 'skip')),
    allow_overlap    INTEGER NOT NULL DEFAULT 1,
    run_on_startup   INTEGER NOT NULL DEFAULT 0,
    per_tenant       INTEGER NOT NULL DEFAULT 0,
    source           TEXT NOT NULL CHECK (source IN ('code', 'runtime')),
    paused           INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    startup_fired_at TEXT,
    CONSTRAINT conveyor_schedules_one_rule CHECK (
        (cron IS NULL) <> (every_seconds IS NULL)),
    CONSTRAINT conveyor_schedules_interval_anchor CHECK (
        (every_seconds IS NULL) = (anchor_at IS NULL))
);

-- One row per (schedule, tenant, fire time) that was decided: enqueued, skipped (the
-- previous run was still going and overlap is not allowed) or missed (dropped by the
-- catch-up policy). The primary key is what makes a fire happen once across every
-- scheduler sharing the file. tenant is '' for a schedule that is not per tenant. kind
-- 'rule' rows are the schedule's own fire times (the newest is its cursor); 'manual' and
-- 'startup' rows record a trigger-now and a run-on-startup fire, outside the rule's grid.
CREATE TABLE conveyor_schedule_fires (
    schedule    TEXT NOT NULL REFERENCES conveyor_schedules (name) ON DELETE CASCADE,
    tenant      TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('rule', 'manual', 'startup')),
    fire_at     TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('enqueued', 'skipped', 'missed')),
    job_id      INTEGER,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (schedule, tenant, kind, fire_at)
);

-- Which schedule fire a job came from (NULL for jobs enqueued otherwise).
ALTER TABLE conveyor_jobs ADD COLUMN schedule_name TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN schedule_fire_at TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN schedule_tenant TEXT;
-- The overlap check looks for an unfinished job of a schedule (and tenant).
CREATE INDEX conveyor_jobs_schedule_idx ON conveyor_jobs (schedule_name, schedule_tenant)
    WHERE schedule_name IS NOT NULL AND finished_at IS NULL;
