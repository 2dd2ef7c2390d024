-- One row per open alert incident, keyed by (rule, subject): whoever inserts it sends the
-- alert, whoever moves sent_at on sends the digest of the folded occurrences, whoever
-- deletes it sends "resolved". The claim is the conditional write itself: no leader.
-- Times are seconds since the epoch, the same in both dialects.
CREATE TABLE conveyor_incidents (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION NOT NULL,
    folded INTEGER NOT NULL DEFAULT 0,
    digested INTEGER NOT NULL DEFAULT 0,
    last_claim TEXT NOT NULL DEFAULT 'open',
    PRIMARY KEY (rule, subject)
);
