-- Schedules: code-declared ones are synced in when a scheduler starts (source 'code'),
-- runtime ones are created through the API (source 'runtime'). Exactly one of cron /
-- every_seconds is set.
CREATE TABLE conveyor_schedules (
    name             text PRIMARY KEY,
    task             text NOT NULL,
    cron             text,
    timezone         text NOT NULL DEFAULT 'UTC',
    every_seconds    double precision CHECK (every_seconds > 0),
    anchor_at        timestamptz,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    queue            text,
    priority         integer,
    catch_up         text NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'all', 'skip')),
    allow_overlap    boolean NOT NULL DEFAULT true,
    run_on_startup   boolean NOT NULL DEFAULT false,
    per_tenant       boolean NOT NULL DEFAULT false,
    source           text NOT NULL CHECK (source IN ('code', 'runtime')),
    paused           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    startup_fired_at timestamptz,
    CONSTRAINT conveyor_schedules_one_rule CHECK (
        (cron IS NULL) <> (every_seconds IS NULL)),
    CONSTRAINT conveyor_schedules_interval_anchor CHECK (
        (every_seconds IS NULL) = (anchor_at IS NULL))
);

-- One row per (schedule, tenant, fire time) that was decided: enqueued, skipped (the
-- previous run was still going and overlap is not allowed) or missed (dropped by the
-- catch-up policy). The primary key is what makes a fire happen once across every
-- scheduler in the cluster: the second process to insert it finds the row taken.
-- tenant is '' for a schedule that is not per tenant (a key column cannot be NULL). kind
-- 'rule' rows are the schedule's own fire times (the newest is its cursor); 'manual' and
-- 'startup' rows record a trigger-now and a run-on-startup fire, outside the rule's grid.
CREATE TABLE conveyor_schedule_fires (
    schedule    text NOT NULL REFERENCES conveyor_schedules (name) ON DELETE CASCADE,
    tenant      text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('rule', 'manual', 'startup')),
    fire_at     timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('enqueued', 'skipped', 'missed')),
    job_id      bigint,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (schedule, tenant, kind, fire_at)
);

-- Which schedule fire a job came from (NULL for jobs enqueued otherwise).
ALTER TABLE conveyor_jobs ADD COLUMN schedule_name text;
ALTER TABLE conveyor_jobs ADD COLUMN schedule_fire_at timestamptz;
ALTER TABLE conveyor_jobs ADD COLUMN schedule_tenant text;
-- The overlap check looks for an unfinished job of a schedule (and tenant).
CREATE INDEX conveyor_jobs_schedule_idx ON conveyor_jobs (schedule_name, schedule_tenant)
    WHERE schedule_name IS NOT NULL AND finished_at IS NULL;
