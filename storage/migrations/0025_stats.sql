-- Statistics (issue 11): one summary row per appeal, derived from the appeal and its append-only
-- history (storage/stats.py recomputes the row of every appeal whose history grew since the
-- watermark, in one transaction with the watermark; nothing here is counted by hand). The figures of
-- a month read one index range of these rows instead of replaying the history of every appeal.
-- Moments are integer epoch seconds (UTC) as in the other tables; month is 'YYYY-MM' of filing in
-- the community's time zone.
CREATE TABLE appeal_stats (
    appeal_id BIGINT PRIMARY KEY REFERENCES appeals (id),
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL,
    unit_id BIGINT,
    category TEXT NOT NULL,
    level INTEGER NOT NULL,
    month TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    first_reply_at BIGINT,
    first_reply_due_at BIGINT NOT NULL,
    first_reply_s INTEGER,
    resolved_at BIGINT,
    resolve_s INTEGER,
    resolved_on_time INTEGER,
    resolve_due_at BIGINT,
    closed INTEGER NOT NULL DEFAULT 0,
    auto_closed INTEGER NOT NULL DEFAULT 0,
    rating INTEGER,
    reopens INTEGER NOT NULL DEFAULT 0,
    escalations INTEGER NOT NULL DEFAULT 0,
    refreshed_at BIGINT NOT NULL
);
CREATE INDEX appeal_stats_community_month ON appeal_stats (community_id, month);
CREATE INDEX appeal_stats_community_created ON appeal_stats (community_id, created_at);

-- How far the summary has read the history: the last appeal_events.id taken into account.
CREATE TABLE stats_watermark (
    name TEXT PRIMARY KEY,
    event_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The summary reads an appeal's first-reply deadlines (postponements included), done or not.
CREATE INDEX deadlines_appeal_kind ON deadlines (appeal_id, kind);
