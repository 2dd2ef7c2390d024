-- The newest decided rule fire per (schedule, tenant): where its next fires are counted
-- from. One row each, so that every scheduler cycle reads a few rows instead of
-- aggregating the fires table, and the fires table can be pruned to a short horizon.
CREATE TABLE conveyor_schedule_cursors (
    schedule TEXT NOT NULL,
    tenant   TEXT NOT NULL DEFAULT '',
    fire_at  TEXT NOT NULL,
    PRIMARY KEY (schedule, tenant)
);
INSERT INTO conveyor_schedule_cursors (schedule, tenant, fire_at)
SELECT schedule, tenant, max(fire_at) FROM conveyor_schedule_fires
WHERE kind = 'rule'
GROUP BY schedule, tenant;
-- A schedule's last run is its newest enqueued fire.
CREATE INDEX conveyor_schedule_fires_last_idx ON conveyor_schedule_fires (schedule, recorded_at)
    WHERE outcome = 'enqueued';
