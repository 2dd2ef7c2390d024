-- SQLite's migration of this number drops two indexes its planner never reads. PostgreSQL
-- reads both: the job list filtered by task plans with the task index, and lease rescue
-- walks the lease index in expiry order.
SELECT 1;
