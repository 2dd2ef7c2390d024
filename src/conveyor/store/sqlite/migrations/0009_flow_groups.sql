-- Claims that read only what they can take (see the PostgreSQL migration of the same
-- number). The flow group is the JSON array of the four columns: one comparable value in
-- which NULL keys are equal to each other (a row value comparison with a NULL is NULL).
DROP INDEX conveyor_jobs_flow_idx;
CREATE INDEX conveyor_jobs_flow_group_idx ON conveyor_jobs (
        json_array(queue, concurrency_key, rate_key, fairness_key), priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL);

DROP INDEX conveyor_jobs_claim_idx;
CREATE INDEX conveyor_jobs_claim_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
DROP INDEX conveyor_jobs_claim_any_idx;
CREATE INDEX conveyor_jobs_claim_any_idx ON conveyor_jobs (priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
