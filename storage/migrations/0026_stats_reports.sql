-- The monthly report (issue 11): one due row per community and reported month. The sweep adds the
-- row of the month that just ended (due on the community's report day, in working hours) and, once
-- due, marks it done in the transaction that queues the report to the staff and street chats (the
-- outbox builds the files when it sends them). Idempotent: the primary key makes the row once, the
-- guarded UPDATE lets one sweep (of any process) send it once.
CREATE TABLE stats_reports (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    month TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT,
    PRIMARY KEY (community_id, month)
);
CREATE INDEX stats_reports_due ON stats_reports (due_at) WHERE done_at IS NULL;
