-- Two indexes that no statement of the SQLite store reads (tests/store/test_sqlite_indexes.py
-- asks SQLite's planner for every statement's plan): the job list filters by task and
-- reads the table newest first, and lease rescue finds running jobs through the state
-- index. Each was paid for under SQLite's one write lock: an entry in the task index for
-- every enqueued job, an entry added to the lease index at each claim and removed at each
-- ack.
DROP INDEX conveyor_jobs_task_idx;
DROP INDEX conveyor_jobs_lease_idx;
