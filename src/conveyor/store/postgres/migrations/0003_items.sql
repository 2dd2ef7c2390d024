-- The item ledger: the outcome of each item (recipient, CSV row, customer) a bulk job or
-- a batch worked through. ``ledger`` names the owner, 'job:<id>' or 'batch:<id>', so that
-- a retried or rescued job (same id) and every chunk of one batch share one ledger. The
-- primary key makes an item's outcome one row however often it is recorded.
CREATE TABLE conveyor_items (
    ledger      text NOT NULL,
    item_key    text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('done', 'skipped', 'failed')),
    reason      text,
    job_id      bigint NOT NULL,
    attempt     integer NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (ledger, item_key)
);
-- Per-outcome counts and "the failed items, with reasons" read this index.
CREATE INDEX conveyor_items_outcome_idx ON conveyor_items (ledger, outcome, item_key);
