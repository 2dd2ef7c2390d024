-- Flow control. A job's limits are copied from its task at enqueue, so that any worker
-- (and `conveyor jobs why`) can enforce and explain them without the task's code:
-- at most concurrency_limit running jobs share a concurrency_key; jobs sharing a rate_key
-- start at most rate_per_second on average, rate_burst at once; claims interleave
-- fairness_key values. A job with any key set is a "flow" job, claimed by claim_flow_jobs.
ALTER TABLE conveyor_jobs
    ADD COLUMN concurrency_key   text,
    ADD COLUMN concurrency_limit integer CHECK (concurrency_limit >= 1),
    ADD COLUMN rate_key          text,
    ADD COLUMN rate_per_second   double precision CHECK (rate_per_second > 0),
    ADD COLUMN rate_burst        double precision CHECK (rate_burst >= 1),
    ADD COLUMN fairness_key      text,
    ADD CONSTRAINT conveyor_jobs_concurrency_pair CHECK (
        (concurrency_key IS NULL) = (concurrency_limit IS NULL)),
    ADD CONSTRAINT conveyor_jobs_rate_triple CHECK (
        (rate_key IS NULL) = (rate_per_second IS NULL)
        AND (rate_key IS NULL) = (rate_burst IS NULL));

-- The flow claim reads waiting flow jobs only; plain claims never see them.
CREATE INDEX conveyor_jobs_flow_idx ON conveyor_jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retrying')
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL OR fairness_key IS NOT NULL);
-- Counting the running jobs of each concurrency key.
CREATE INDEX conveyor_jobs_running_key_idx ON conveyor_jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;

-- One token bucket per rate key, shared by every worker of the cluster: ``tokens`` as of
-- ``updated_at``; it refills at rate_per_second up to burst.
CREATE TABLE conveyor_rate_buckets (
    key             text PRIMARY KEY,
    tokens          double precision NOT NULL,
    rate_per_second double precision NOT NULL CHECK (rate_per_second > 0),
    burst           double precision NOT NULL CHECK (burst >= 1),
    updated_at      timestamptz NOT NULL
);
