-- The state index leaves out the two states every job passes through on the hot path.
-- Each claim and each ack writes a new row version, and every index whose predicate the
-- new version meets gets an entry: with 'running' and 'completed' out, a claim and an ack
-- each write one index entry fewer (of four). Reads by those states are served elsewhere:
-- running jobs by conveyor_jobs_lease_idx (a worker fleet's worth of rows), completed
-- jobs, the bulk of any history, by walking the primary key newest first.
DROP INDEX conveyor_jobs_state_idx;
CREATE INDEX conveyor_jobs_state_idx ON conveyor_jobs (state, id)
    WHERE state NOT IN ('running', 'completed');
