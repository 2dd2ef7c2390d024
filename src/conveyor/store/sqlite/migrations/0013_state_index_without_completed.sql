-- The state index leaves out completed jobs, the bulk of any history. Each ack wrote one
-- into it, under SQLite's one write lock, and a history of a million of them made every
-- write into the index descend a deeper b-tree. Nothing reads completed jobs through it:
-- the job list reads the table newest first. The statements that read the index repeat
-- its predicate word for word (SQLite matches it as written, as for the claim indexes).
DROP INDEX conveyor_jobs_state_idx;
CREATE INDEX conveyor_jobs_state_idx ON conveyor_jobs (state, id) WHERE state <> 'completed';
