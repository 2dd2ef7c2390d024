-- The item ledger (see the PostgreSQL migration of the same number).
CREATE TABLE conveyor_items (
    ledger      TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('done', 'skipped', 'failed')),
    reason      TEXT,
    job_id      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (ledger, item_key)
) WITHOUT ROWID;
CREATE INDEX conveyor_items_outcome_idx ON conveyor_items (ledger, outcome, item_key);
