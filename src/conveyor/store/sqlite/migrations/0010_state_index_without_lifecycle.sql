-- PostgreSQL's migration of this number narrows the state index to the states a job does
-- not pass through on the hot path. SQLite keeps the whole index: its planner uses a
-- partial index only where the query names the predicate's values, and the job list
-- filters by a state list that arrives as a parameter.
SELECT 1;
