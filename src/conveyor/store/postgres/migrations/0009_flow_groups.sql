-- Claims that read only what they can take.
--
-- A flow group is one combination (queue, concurrency_key, rate_key, fairness_key) that
-- has waiting flow jobs. This index holds the waiting flow jobs in (group, priority,
-- run_at, id) order, so the flow claim can skip from group to group (a loose index scan:
-- one descent per group) and read each group's first few jobs, instead of ranking every
-- waiting flow job. The group is an array: text[] equality and order treat NULL elements
-- as equal to each other, which a row of the four columns would not.
DROP INDEX conveyor_jobs_flow_idx;
CREATE INDEX conveyor_jobs_flow_group_idx ON conveyor_jobs (
        (ARRAY[queue, concurrency_key, rate_key, fairness_key]), priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL);

-- The plain claims' indexes hold plain jobs only: a flow backlog at the head of the queue
-- no longer sits in the plain claim's path (it used to walk past every waiting flow job
-- and drop it by filter). The claims state the same three IS NULL terms, which is what
-- lets the planner use these partial indexes.
DROP INDEX conveyor_jobs_claim_idx;
CREATE INDEX conveyor_jobs_claim_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
DROP INDEX conveyor_jobs_claim_any_idx;
CREATE INDEX conveyor_jobs_claim_any_idx ON conveyor_jobs (priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL;
