-- The state index carries each job's queue and run_at after its keys, so that counting
-- open and failed jobs by queue reads the index alone, not one table row per job (see the
-- PostgreSQL migration of this number). Its keys and predicate stay as they were: the
-- job list still reads it in (state, id) order.
DROP INDEX conveyor_jobs_state_idx;
CREATE INDEX conveyor_jobs_state_idx ON conveyor_jobs (state, id, queue, run_at)
    WHERE state <> 'completed';
