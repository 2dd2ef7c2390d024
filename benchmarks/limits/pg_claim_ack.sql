-- One worker round as Conveyor's PostgreSQL store runs it, with no Python in the loop:
-- claim up to 100 due jobs of one queue (store claim_jobs: the per-queue walk of
-- conveyor_jobs_claim_idx, SKIP LOCKED, a fresh lease token), then complete them in a
-- second transaction fenced by id and lease token (store complete_jobs). pgbench carries the
-- claimed ids and tokens from the first statement to the second as comma-separated text,
-- as the store sends them. Each statement commits on its own, durably.
WITH candidates AS (
    SELECT c.id, c.priority, c.run_at
    FROM unnest(ARRAY['default']::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM conveyor_jobs
        WHERE queue = q.name
          AND state IN ('available', 'scheduled', 'retrying')
          AND run_at <= now()
          AND concurrency_key IS NULL AND rate_key IS NULL AND fairness_key IS NULL
        ORDER BY priority, run_at, id
        LIMIT 100
        FOR UPDATE SKIP LOCKED
    ) c
    WHERE q.name NOT IN (SELECT name FROM conveyor_queues WHERE paused)
), picked AS (
    SELECT id FROM candidates ORDER BY priority, run_at, id LIMIT 100
), claimed AS (
    UPDATE conveyor_jobs j
    SET state = 'running', attempt = j.attempt + 1, started_at = now(),
        lease_token = gen_random_uuid(), lease_expires_at = now() + interval '30 seconds',
        worker_id = 'limit'
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.task, j.queue, j.payload, j.priority, j.attempt, j.max_attempts,
              j.run_at, j.created_at, j.lease_token
)
SELECT coalesce(string_agg(id::text, ','), '') AS ids,
       coalesce(string_agg(lease_token::text, ','), '') AS tokens,
       count(*) AS claimed
FROM claimed
\gset
WITH done AS (
    UPDATE conveyor_jobs j
    SET state = 'completed', finished_at = now(), result = x.result,
        lease_token = NULL, lease_expires_at = NULL
    FROM unnest(string_to_array(':ids', ',')::bigint[], string_to_array(':tokens', ','),
                ARRAY[]::jsonb[]) AS x(id, token, result)
    WHERE j.id = x.id AND j.lease_token::text = x.token
    RETURNING j.id
)
SELECT count(*) AS completed FROM done;
