-- Metrics: each worker writes its job counters and run-time histogram (JSON) with its
-- heartbeat; a scrape sums them. Pruning a worker folds its last figures into the single
-- totals row first, so that the cluster's counters never go down.
ALTER TABLE conveyor_workers ADD COLUMN metrics TEXT;
CREATE TABLE conveyor_metric_totals (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    metrics TEXT NOT NULL
);
