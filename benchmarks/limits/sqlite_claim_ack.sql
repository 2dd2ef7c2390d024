-- One worker round as Conveyor's SQLite store runs it, with no Python in the loop: claim
-- up to 100 due jobs of one queue with fresh lease tokens (store claim_jobs, word for
-- word), then complete them in a second transaction fenced by id and lease token (store
-- complete_jobs, word for word). The shell cannot carry the claimed ids and tokens from one
-- statement to the next, so the ack's :jobs array is read back from the claimed rows
-- through the state index, a cost the store does not pay. Lifecycle writes commit with
-- synchronous=NORMAL, as the store's do; benchmarks/limits repeats this block per 100 jobs.
BEGIN IMMEDIATE;
UPDATE conveyor_jobs
SET state = 'running', attempt = attempt + 1, started_at = '2100-01-01 00:00:00.000000',
    lease_token = lower(hex(randomblob(16))), lease_expires_at = '2100-01-01 00:00:30.000000',
    worker_id = 'limit'
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_claim_idx
    WHERE (state = 'available' OR state = 'scheduled' OR state = 'retrying')
      AND queue IN (SELECT value FROM json_each('["default"]')
                    WHERE value NOT IN (SELECT name FROM conveyor_queues WHERE paused))
      AND run_at <= '2100-01-01 00:00:00.000000'
      AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
    ORDER BY priority, run_at, id
    LIMIT 100
)
RETURNING *;
COMMIT;
BEGIN IMMEDIATE;
UPDATE conveyor_jobs
SET state = 'completed', finished_at = '2100-01-01 00:00:01.000000',
    result = json_extract(a.value, '$[2]'), lease_token = NULL, lease_expires_at = NULL
FROM json_each((
    SELECT json_group_array(json_array(id, lease_token, NULL))
    FROM conveyor_jobs INDEXED BY conveyor_jobs_state_idx
    WHERE state <> 'completed' AND state = 'running' AND worker_id = 'limit'
)) AS a
WHERE conveyor_jobs.id = json_extract(a.value, '$[0]')
  AND conveyor_jobs.lease_token = json_extract(a.value, '$[1]')
RETURNING conveyor_jobs.id;
COMMIT;
